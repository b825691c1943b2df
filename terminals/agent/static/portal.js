// The holder portal: sign in with the card (the PIN goes to the agent, which has the card sign; the page never
// holds a token), then eligibility, medication, checkups with a chart, consents (withdraw one), the access log.
"use strict";
const screen = document.getElementById("screen");
const account = document.getElementById("account");
const CATEGORY = { medication: "薬剤情報", checkup: "特定健診" };
const ROLE = { doctor: "医師", dentist: "歯科医師", pharmacist: "薬剤師", reception: "受付" };
const STATE = { active: "有効", expired: "期限切れ", withdrawn: "撤回済み" };

function table(className, columns, rows) {
  return el("table", { class: `cards ${className}` },
    el("thead", {}, el("tr", {}, columns.map(([label]) => el("th", { scope: "col", text: label })))),
    el("tbody", {}, rows.map((row) => el("tr", {}, columns.map(([label, cell, cls]) =>
      el("td", { "data-label": label, class: cls || null }, cell(row)))))));
}
function empty(text) { return el("p", { class: "message", text }); }
function copay(ratio) { return ratio ? `${ratio / 10}割` : "-"; }
function period(record) {
  return el("span", {}, time(record.qualified_on), " ～ ", record.disqualified_on ? time(record.disqualified_on) : "");
}

function signIn(message) {
  const input = el("input", { class: "pin-input", id: "pin", type: "password", inputmode: "numeric", maxlength: "4",
    autocomplete: "off", pattern: "[0-9]*" });
  const submit = async () => {
    const pin = input.value; input.value = "";
    if (!/^[0-9]{4}$/.test(pin)) return signIn("暗証番号は4桁の数字です。");
    const answer = await api("POST", "/api/portal/sign-in", { pin });
    if (!answer.ok) return signIn(answer.body.detail || answer.body.error);
    dashboard(answer.body.access);
  };
  input.addEventListener("keydown", (event) => { if (event.key === "Enter") submit(); });
  account.replaceChildren();
  show(screen,
    el("h2", { text: "マイナンバーカードでログイン" }),
    el("p", { text: "カードを読み取り機に置き、利用者証明用電子証明書の暗証番号 (4桁) を入力してください。" }),
    message ? el("p", { class: "message error", role: "alert", text: message }) : null,
    el("label", { for: "pin", class: "lead", text: "暗証番号 (4桁)" }), input,
    el("div", { class: "actions" }, el("button", { class: "big primary", onclick: submit, text: "ログイン" })));
  input.focus();
}

async function signOut() {
  await api("POST", "/api/portal/sign-out");
  signIn("ログアウトしました。");
}

function eligibilitySection(data) {
  const current = data.current;
  return el("section", { id: "eligibility", "aria-labelledby": "h-eligibility" },
    el("h2", { id: "h-eligibility", text: "資格情報" }),
    el("div", { class: "panel" },
      el("p", { class: `validity ${current ? "yes" : "no"}`, text: current ? "有効" : "有効な資格はありません" }),
      current ? el("dl", { class: "staff" },
        el("dt", { text: "保険者" }), el("dd", { text: `${current.insurer_name} (${current.insurer_number})` }),
        el("dt", { text: "記号・番号・枝番" }), el("dd", { class: "nowrap", text: `${current.symbol}・${current.number}・${current.branch}` }),
        el("dt", { text: "負担割合" }), el("dd", { text: copay(current.copay_ratio) }),
        el("dt", { text: "資格取得日" }), el("dd", {}, time(current.qualified_on))) : null),
    el("h3", { text: "これまでの資格" }),
    data.history.length ? table("history", [
      ["保険者", (r) => r.insurer_name], ["記号・番号・枝番", (r) => `${r.symbol}・${r.number}・${r.branch}`, "nowrap"],
      ["期間", period], ["負担割合", (r) => copay(r.copay_ratio), "num"]], data.history) : empty("登録されている資格はありません。"));
}

function medicationSection(data) {
  return el("section", { id: "medications", "aria-labelledby": "h-medications" },
    el("h2", { id: "h-medications", text: "薬剤情報 (過去3年)" }),
    data.records.length ? table("medications", [
      ["調剤日", (r) => time(r.dispensed_on)], ["薬品名", (r) => el("span", { class: "drug-name", text: r.drug_name }), "drug"],
      ["数量", (r) => `${r.quantity}${r.unit}`, "num"], ["日数", (r) => (r.days ? `${r.days}日` : "-"), "num"],
      ["医療機関", (r) => r.facility_name || `医療機関コード ${r.facility_code}`]], data.records) : empty("薬剤情報はありません。"));
}

function checkupSection(data) {
  const points = (key) => data.records.filter((r) => r[key] !== null && r[key] !== undefined)
    .map((r) => ({ at: new Date(r.examined_on), value: Number(r[key]) }));
  const charts = data.records.length ? [
    lineChart({ title: "HbA1c", unit: "%", series: [{ key: "hba1c", label: "HbA1c", points: points("hba1c") }], guidance: 5.6 }),
    lineChart({ title: "血圧", unit: "mmHg", series: [
      { key: "systolic_bp", label: "収縮期", points: points("systolic_bp") },
      { key: "diastolic_bp", label: "拡張期", points: points("diastolic_bp") }], guidance: 130 }),
  ] : [];
  return el("section", { id: "checkups", "aria-labelledby": "h-checkups" },
    el("h2", { id: "h-checkups", text: "特定健診 (過去5年)" }),
    data.records.length ? table("checkups", [
      ["受診日", (r) => time(r.examined_on)], ["HbA1c (%)", (r) => (r.hba1c === null || r.hba1c === undefined ? "-" : Number(r.hba1c).toFixed(1)), "num"],
      ["血圧 (mmHg)", (r) => `${r.systolic_bp ?? "-"}/${r.diastolic_bp ?? "-"}`, "num"],
      ["LDL (mg/dL)", (r) => r.ldl ?? "-", "num"], ["BMI", (r) => r.bmi ?? "-", "num"]], data.records) : empty("特定健診の結果はありません。"),
    charts);
}

function consentSection(data) {
  const withdraw = (consent) => el("button", { class: "withdraw", "data-consent": consent.consent_id, onclick: async () => {
    const answer = await api("POST", `/api/portal/consents/${consent.consent_id}/withdraw`);
    if (!answer.ok) return answer.status === 401 ? signIn(answer.body.detail) : alertMessage(answer.body.detail);
    document.getElementById("consents").replaceWith(consentSection(answer.body));
  }, text: "撤回する" });
  return el("section", { id: "consents", "aria-labelledby": "h-consents" },
    el("h2", { id: "h-consents", text: "情報提供への同意" }),
    data.consents.length ? table("consents", [
      ["医療機関", (c) => c.facility_name], ["情報", (c) => c.categories.map((k) => CATEGORY[k]).join("・")],
      ["同意日時", (c) => time(c.given_at, true)], ["有効期限", (c) => time(c.expires_at, true)],
      ["状態", (c) => el("span", { class: `badge ${c.state}`, text: STATE[c.state] })],
      ["", (c) => (c.state === "active" ? withdraw(c) : "")]], data.consents) : empty("同意の記録はありません。"));
}

function accessLogSection(data) {
  return el("section", { id: "access-log", "aria-labelledby": "h-access-log" },
    el("h2", { id: "h-access-log", text: "あなたの情報の閲覧記録" }),
    data.entries.length ? table("access-log", [
      ["日時", (e) => time(e.at, true)], ["医療機関", (e) => e.facility_name || e.facility_code],
      ["職種", (e) => ROLE[e.role] || e.role], ["情報", (e) => CATEGORY[e.category] || e.category]], data.entries)
      : empty("閲覧記録はありません。"));
}

function alertMessage(text) {
  screen.prepend(el("p", { class: "message error", role: "alert", text }));
}

async function dashboard(access) {
  account.replaceChildren(el("button", { onclick: signOut, text: "ログアウト" }));
  const full = access === "full";
  const names = full ? ["eligibility", "medications", "checkups", "consents", "access-log"] : ["access-log"];
  const answers = await Promise.all(names.map((name) => api("GET", `/api/portal/${name}`)));
  const failed = answers.find((a) => !a.ok);
  if (failed) return failed.status === 401 ? signIn(failed.body.detail) : show(screen, el("p", { class: "message error", role: "alert", text: failed.body.detail }));
  const data = Object.fromEntries(names.map((name, i) => [name, answers[i].body]));
  show(screen,
    full ? null : el("p", { class: "message", text: "電子証明書の有効期限が切れているため、閲覧記録だけを表示しています。市区町村の窓口で更新してください。" }),
    full ? [eligibilitySection(data.eligibility), medicationSection(data.medications), checkupSection(data.checkups),
      consentSection(data.consents)] : null,
    accessLogSection(data["access-log"]));
}

(async () => {
  const session = await api("GET", "/api/portal/session");
  session.ok && session.body.signed_in ? dashboard(session.body.access) : signIn();
})();
