// The reception kiosk: カードを置いてください -> 本人確認 -> 同意 -> 受付完了 -> back to idle.
// The page keeps nothing of a patient: no storage, no cookies; going back to idle asks the agent to forget the
// visit and reloads the page, so the DOM and this script's memory start empty for the next patient.
"use strict";
const screen = document.getElementById("screen");
const PAPER = "本日は資格確認書または保険証で受付してください。";
let resetSeconds = 8;
let timer = null;

async function backToIdle() {
  if (timer) clearInterval(timer);
  await api("POST", "/api/kiosk/reset");
  location.replace("/kiosk/");
}

function failure(body) {
  if (body.error === "service_unavailable" || body.error === "agent_unreachable" || (body.service_status || 0) >= 500) {
    return show(screen,
      el("h2", { text: "資格確認できませんでした" }),
      el("p", { class: "message error", text: "サービスに接続できません。" + (body.detail || "") }),
      el("p", { class: "lead", text: PAPER }),
      el("div", { class: "actions" }, el("button", { class: "big primary", onclick: backToIdle, text: "最初の画面に戻る" })));
  }
  show(screen,
    el("h2", { text: "確認できませんでした" }),
    el("p", { class: "message error", text: body.detail || body.error }),
    el("p", { class: "lead", text: PAPER }),
    el("div", { class: "actions" }, el("button", { class: "big primary", onclick: backToIdle, text: "最初の画面に戻る" })));
}

async function idle() {
  const settings = await api("GET", "/api/kiosk/settings");
  if (settings.ok) resetSeconds = settings.body.reset_seconds;
  const cards = await api("GET", "/api/kiosk/cards");
  const names = cards.ok ? cards.body.cards : [];
  show(screen,
    el("h2", { text: "カードを置いてください" }),
    el("p", { class: "lead", text: "マイナンバーカードを読み取り機に置いてください。" }),
    el("section", { class: "panel", "aria-label": "デモ用のカード" },
      el("p", { text: "デモ: 置くカードを選んでください" }),
      el("div", { class: "actions" }, names.map((name) =>
        el("button", { class: "card-choice", "data-card": name, onclick: () => place(name), text: name })))));
}

async function place(name) {
  const answer = await api("POST", "/api/kiosk/place", { card: name });
  if (!answer.ok) return failure(answer.body);
  chooseMethod(answer.body);
}

function chooseMethod(info) {
  const buttons = [];
  if (info.methods.includes("face")) buttons.push(el("button", { class: "big primary", onclick: faceCheck, text: "顔認証" }));
  if (info.methods.includes("pin")) buttons.push(el("button", { class: "big primary", onclick: () => pinPad(), text: "暗証番号" }));
  buttons.push(el("button", { class: "big", onclick: visualCheck, text: "職員による目視確認" }));
  show(screen,
    el("h2", { text: "本人確認の方法" }),
    el("p", { class: "lead", text: "本人確認の方法を選んでください。" }),
    info.pin_locked ? el("p", { class: "message error", text: "このカードは暗証番号がロックされています (解除は市区町村の窓口)。" }) : null,
    el("div", { class: "actions" }, buttons));
}

function pinPad(message) {
  const input = el("input", { class: "pin-input", type: "password", inputmode: "numeric", maxlength: "4",
    autocomplete: "off", "aria-label": "暗証番号 (4桁)", pattern: "[0-9]*" });
  const submit = () => {
    const pin = input.value;
    input.value = "";
    if (!/^[0-9]{4}$/.test(pin)) return;
    screen.querySelectorAll("button, input").forEach((control) => { control.disabled = true; });  // one PIN at a time
    verifyPin(pin);
  };
  input.addEventListener("keydown", (event) => { if (event.key === "Enter") submit(); });
  const key = (digit) => el("button", { onclick: () => { if (input.value.length < 4) input.value += digit; input.focus(); }, text: digit });
  show(screen,
    el("h2", { text: "暗証番号を入力してください" }),
    el("p", { class: "lead", text: "4桁の数字を入力し、「確定」を押してください。" }),
    message ? el("p", { class: "message error", role: "alert", text: message }) : null,
    input,
    el("div", { class: "keypad" }, ["1", "2", "3", "4", "5", "6", "7", "8", "9"].map(key),
      el("button", { onclick: () => { input.value = input.value.slice(0, -1); }, text: "訂正" }), key("0"),
      el("button", { class: "primary", onclick: submit, text: "確定" })));
  input.focus();
}

async function verifyPin(pin) {
  const answer = await api("POST", "/api/kiosk/verify", { method: "pin", pin });
  if (answer.ok) return result(answer.body);
  if (answer.body.error === "wrong_pin") return pinPad(answer.body.detail);
  if (answer.body.error === "card_locked") {
    return show(screen,
      el("h2", { text: "カードがロックされました" }),
      el("p", { class: "message error", text: answer.body.detail }),
      el("div", { class: "actions" },
        el("button", { class: "big primary", onclick: visualCheck, text: "職員による目視確認に切り替える" }),
        el("button", { class: "big", onclick: backToIdle, text: "中止する" })));
  }
  failure(answer.body);
}

// The face check: the camera preview in the page, the prompts of the agent's challenge on top of it, and every
// frame sent to the agent with its time since the start; the agent decides.
async function faceCheck() {
  const video = el("video", { class: "preview", autoplay: true, muted: true, playsinline: true });
  const prompt = el("p", { class: "lead face-prompt", "aria-live": "assertive", text: "カメラの方を向いてください。" });
  show(screen, el("h2", { text: "顔認証" }), video, prompt);
  const started = await api("POST", "/api/kiosk/face/start");  // the challenge first, then the camera
  if (!started.ok) return pinPad(`${started.body.detail} 暗証番号で確認します。`);
  const { prompts, duration } = started.body;
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (error) {
    return pinPad("カメラを使えません。暗証番号で確認します。");
  }
  video.srcObject = stream;
  await new Promise((resolve) => { if (video.readyState >= 2) resolve(); else video.onloadeddata = resolve; });
  const canvas = el("canvas", { width: video.videoWidth, height: video.videoHeight });
  let sending = Promise.resolve();
  let t0 = null;
  // every new camera frame once (requestVideoFrameCallback), timed from the first one
  await new Promise((finished) => {
    const giveUp = setTimeout(finished, (duration + 5) * 1000);  // a camera that stops sending frames
    const onFrame = (now) => {
      if (t0 === null) t0 = now;
      const at = (now - t0) / 1000;
      const current = prompts.find((p) => p.start <= at && at < p.end);
      if (current) prompt.textContent = current.text;
      canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
      const sent = new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
      sending = sending.then(async () => fetch(`/api/kiosk/face/frame?at=${at.toFixed(3)}`, {
        method: "POST", headers: { "Content-Type": "image/jpeg" }, body: await sent, cache: "no-store" }));
      if (at < duration + 0.3) video.requestVideoFrameCallback(onFrame);
      else { clearTimeout(giveUp); finished(); }
    };
    video.requestVideoFrameCallback(onFrame);
  });
  stream.getTracks().forEach((t) => t.stop());
  video.srcObject = null;
  prompt.textContent = "確認しています…";
  await sending.catch(() => null);
  const answer = await api("POST", "/api/kiosk/face/finish");
  if (!answer.ok) return failure(answer.body);
  if (answer.body.matched) return result(answer.body.result);
  pinPad(`${answer.body.reason} 顔認証できませんでした。暗証番号で確認します。`);
}

function visualCheck() {
  show(screen,
    el("h2", { text: "職員による目視確認" }),
    el("p", { class: "lead", text: "職員の方: カードの顔写真とご本人を目視で確認しましたか?" }),
    el("div", { class: "actions" },
      el("button", { class: "big primary", onclick: async () => {
        const answer = await api("POST", "/api/kiosk/verify", { method: "visual" });
        answer.ok ? result(answer.body) : failure(answer.body);
      }, text: "確認しました" }),
      el("button", { class: "big", onclick: backToIdle, text: "中止する" })));
}

function result(screenAnswer) {
  if (screenAnswer.viewing_allowed && screenAnswer.ask.length) return consent(screenAnswer);
  if (screenAnswer.outcome === "not_registered") return offerRegistration(screenAnswer);
  done(screenAnswer, null);
}

function offerRegistration(screenAnswer) {
  show(screen,
    el("h2", { text: "利用登録" }),
    el("p", { class: "message", text: screenAnswer.headline }),
    el("p", { class: "lead", text: "このカードで保険証の利用登録をしますか?" }),
    el("div", { class: "actions" },
      el("button", { class: "big primary", onclick: async () => {
        const answer = await api("POST", "/api/kiosk/register");
        if (!answer.ok) return failure(answer.body);
        if (answer.body.result) return result(answer.body.result);
        done(screenAnswer, answer.body.message);
      }, text: "利用登録する" }),
      el("button", { class: "big", onclick: () => done(screenAnswer, null), text: "登録しない" })));
}

function consent(screenAnswer) {
  const chosen = new Map(screenAnswer.ask.map((item) => [item.category, null]));
  const submit = el("button", { class: "big primary", disabled: true, text: "決定" });
  const rows = screenAnswer.ask.map((item) => {
    const yes = el("button", { class: "big", "aria-pressed": "false", "data-consent": item.category + ":yes", text: "同意する" });
    const no = el("button", { class: "big", "aria-pressed": "false", "data-consent": item.category + ":no", text: "同意しない" });
    const pick = (value) => {
      chosen.set(item.category, value);
      yes.setAttribute("aria-pressed", String(value)); no.setAttribute("aria-pressed", String(!value));
      submit.disabled = [...chosen.values()].some((v) => v === null);
    };
    yes.addEventListener("click", () => pick(true)); no.addEventListener("click", () => pick(false));
    return el("section", { class: "panel" },
      el("p", { class: "lead", text: `${item.name}を医師・歯科医師・薬剤師が閲覧することに同意しますか?` }),
      el("div", { class: "actions" }, yes, no));
  });
  submit.addEventListener("click", async () => {
    const categories = [...chosen].filter(([, v]) => v).map(([k]) => k);
    const answer = await api("POST", "/api/kiosk/consent", { categories });
    if (!answer.ok) return failure(answer.body);
    done(screenAnswer, answer.body.categories.length ? `情報提供に同意しました: ${answer.body.categories.join("・")}` : "情報提供に同意しませんでした。");
  });
  show(screen, el("h2", { text: "同意の確認" }), ...rows, el("div", { class: "actions" }, submit));
}

function staffView(staff) {
  const rows = [["有効性", staff.validity], ["氏名", staff.name_kanji], ["保険者番号", staff.insurer_number],
    ["記号・番号・枝番", staff.symbol_number], ["本人・家族", staff.holder_kind], ["負担割合", staff.copay],
    ["有効期間", staff.period], ["限度額適用区分", staff.limit_category]].filter(([, v]) => v);
  return el("section", { class: "panel staff-view", "aria-label": "職員用" },
    el("h3", { text: "職員用" }),
    el("dl", { class: "staff" }, rows.map(([k, v]) => [el("dt", { text: k }), el("dd", { class: k === "有効期間" ? "" : "nowrap", text: v })])));
}

function done(screenAnswer, note) {
  let left = resetSeconds;
  const countdown = el("p", { class: "lead", text: `${left}秒後に最初の画面に戻ります。` });
  show(screen,
    el("h2", { text: "受付完了" }),
    el("p", { class: `validity ${screenAnswer.eligible ? "yes" : "no"}`, text: screenAnswer.headline }),
    note ? el("p", { class: "message ok", text: note }) : null,
    screenAnswer.steps.map((step) => el("p", { class: "message", text: step })),
    staffView(screenAnswer.staff),
    countdown,
    el("div", { class: "actions" }, el("button", { class: "big primary", onclick: backToIdle, text: "次の方へ" })));
  timer = setInterval(() => {
    left -= 1;
    countdown.textContent = `${left}秒後に最初の画面に戻ります。`;
    if (left <= 0) backToIdle();
  }, 1000);
}

setInterval(() => { document.getElementById("clock").textContent = jstTime(new Date().toISOString()); }, 1000);
idle();
