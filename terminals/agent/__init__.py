"""The local card-reader agent: holds the (virtual) card, signs only after the PIN typed on its own page, and
serves the reception kiosk (`kiosk`) and the holder portal (`portal`) on loopback.

    python -m terminals.agent kiosk --token ont_… --cards .onshi-data/demo/cards    # the reception kiosk
    python -m terminals.agent portal --card .onshi-data/demo/cards/yamada-taro.card.json   # マイナポータル role

Security model (docs/kiosk.md): it listens on 127.0.0.1 only; it answers only requests whose Host is its own
loopback address and whose Origin (or Sec-Fetch-Site) says they come from its own pages, and sends no CORS
headers at all, so no other site in the browser can drive it; the card's private key never leaves the process
(pages get answers, never signatures or tokens); the card's own counters lock it after 3 wrong PINs (and face
matching after 10 failures), as in the CLI terminal. Modules: `guard` (the origin check), `reader` (the card
slot), `kiosk` and `portal` (their pages' APIs), `app` (the application), `cli` (the command line).
"""
