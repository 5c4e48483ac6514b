// Application JavaScript (ES module). Loaded at the end of <body> with
// <script type="module" src="/static/app.js">. Everything here is progressive
// enhancement: without JavaScript the service works and the server enforces
// the session timeout itself.
import { initAll } from '/static/govuk/govuk-frontend.min.js'

initAll()

// ---------------------------------------------------------------------------
// Character counts
//
// The server renders each character count's message ("You have 4,950
// characters remaining") in <div id="<field id>-status"
// class="app-character-count__server-status">, so the count is there without
// JavaScript. govuk-frontend's character count, started by initAll() above,
// shows the same message and updates it as the person types; once it has
// started, the server's copy (now stale as soon as they type) is removed.
// ---------------------------------------------------------------------------

function handOverCharacterCounts () {
  for (const serverStatus of document.querySelectorAll('.app-character-count__server-status')) {
    const root = serverStatus.closest('.govuk-character-count')
    const live = root && Array.from(root.querySelectorAll('.govuk-character-count__status'))
      .some((el) => el !== serverStatus)
    if (!live) continue // the script did not start: keep the server's message
    const field = root.querySelector('.govuk-js-character-count')
    if (field) {
      const ids = (field.getAttribute('aria-describedby') || '').split(/\s+/)
        .filter((id) => id && id !== serverStatus.id)
      if (ids.length) field.setAttribute('aria-describedby', ids.join(' '))
      else field.removeAttribute('aria-describedby')
    }
    serverStatus.remove()
  }
}

handOverCharacterCounts()

// ---------------------------------------------------------------------------
// Session timeout warning: one clock for every tab, kept by the server
//
// Enabled when <body> has data-session-timeout-seconds (the layout only sets
// it for signed-in users), with:
//   data-session-expires-in-ms    how long the server will keep the session if
//                                 nothing happens (the expiry it enforces)
//   data-session-warning-seconds  how long before the timeout to warn (120)
//   data-session-activity-seconds typing sends a keep-alive at most this often
//   data-status-url               GET: {signed_in, expires_in_ms} (not activity)
//   data-keepalive-url            POST here to stay signed in (activity)
//   data-signout-url              POST here to sign out
//   data-timed-out-url            where to go when the time is up
//
// The server is the clock: the page starts from the expiry the server gave
// it. Tabs of one browser tell each other what they learn (BroadcastChannel,
// or a storage event), so a save or a keep-alive in one tab moves every tab's
// clock. A tab about to warn, or whose time is up, first asks the server how
// long is really left, and only warns or signs out if the server agrees.
// When the server says the session is over, each tab saves what was typed in
// its forms (the server keeps those answers until the person signs in again)
// and goes to the sign-in page; it never signs out a session that is alive.
// ---------------------------------------------------------------------------

const SCREEN_READER_UPDATE_SECONDS = 15
// While the warning shows, ask the server this often (another device, or a
// browser without BroadcastChannel, may have kept the session alive).
const WARNING_POLL_MS = 5000
const CHANNEL = 'ehm-session-clock'

function csrfToken () {
  const meta = document.querySelector('meta[name="csrf-token"]')
  return meta ? meta.getAttribute('content') : ''
}

function plural (n, one, many) {
  return `${n} ${n === 1 ? one : many}`
}

function formatDuration (seconds) {
  const s = Math.max(0, Math.ceil(seconds))
  const minutes = Math.floor(s / 60)
  const rest = s % 60
  if (minutes === 0) return plural(rest, 'second', 'seconds')
  if (rest === 0) return plural(minutes, 'minute', 'minutes')
  return `${plural(minutes, 'minute', 'minutes')} ${plural(rest, 'second', 'seconds')}`
}

function countdownSentence (seconds) {
  return `We will sign you out in ${formatDuration(seconds)} to protect your information.`
}

function el (tag, attrs = {}, text) {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value)
  if (text !== undefined) node.textContent = text
  return node
}

function buildDialog (hasAutosave) {
  const dialog = el('dialog', {
    class: 'app-timeout-dialog',
    id: 'app-timeout-dialog',
    role: 'dialog',
    'aria-modal': 'true',
    'aria-labelledby': 'app-timeout-dialog-title',
    'aria-describedby': 'app-timeout-dialog-description'
  })

  dialog.append(el('h2', { class: 'govuk-heading-m', id: 'app-timeout-dialog-title' }, 'You’re about to be signed out'))

  const description = el('p', { class: 'govuk-body', id: 'app-timeout-dialog-description' })
  // Visual countdown, updated every second, hidden from screen readers...
  const visual = el('span', { 'aria-hidden': 'true' })
  // ...and a screen reader version, updated at most every 15 seconds.
  const spoken = el('span', { class: 'govuk-visually-hidden', 'aria-live': 'polite', 'aria-atomic': 'true' })
  description.append(visual, spoken)
  dialog.append(description)

  if (hasAutosave) {
    dialog.append(el('p', { class: 'govuk-body' }, 'If you are signed out, we will save the answers you have entered on this page.'))
  }

  const problem = el('p', { class: 'govuk-error-message', role: 'alert', hidden: '' },
    'Sorry, there is a problem keeping you signed in. Try again.')
  dialog.append(problem)

  const buttons = el('div', { class: 'govuk-button-group' })
  const stay = el('button', { type: 'button', class: 'govuk-button', 'data-module': 'govuk-button' }, 'Stay signed in')
  const signOut = el('button', { type: 'button', class: 'govuk-button govuk-button--secondary', 'data-module': 'govuk-button' }, 'Sign out')
  buttons.append(stay, signOut)
  dialog.append(buttons)

  document.body.append(dialog)
  return { dialog, visual, spoken, problem, stay, signOut }
}

function postForm (action, fields) {
  const form = el('form', { method: 'post', action, class: 'app-timeout-dialog__hidden-form', hidden: '' })
  for (const [name, value] of Object.entries(fields)) {
    form.append(el('input', { type: 'hidden', name, value }))
  }
  document.body.append(form)
  form.submit()
}

// What a form holds, to tell whether anything was typed since the page loaded.
function formState (form) {
  const parts = []
  for (const [name, value] of new FormData(form)) {
    parts.push([name, typeof value === 'string' ? value : `file:${value.name}:${value.size}`])
  }
  return JSON.stringify(parts)
}

const autosaveForms = Array.from(document.querySelectorAll('form[data-autosave-on-timeout]'))
const autosaveLoaded = new Map(autosaveForms.map((form) => [form, formState(form)]))

// Save typed work: send each form marked data-autosave-on-timeout that was
// changed since the page loaded, with its normal POST (same action and
// fields), without leaving the page. A form nobody touched holds nothing new
// and is not sent (an old page must not offer old answers as new).
function autosave () {
  const sends = autosaveForms
    .filter((form) => formState(form) !== autosaveLoaded.get(form))
    .map((form) => {
      const data = new FormData(form)
      const multipart = (form.getAttribute('enctype') || '').toLowerCase() === 'multipart/form-data'
      // getAttribute, not form.action: a control named "action" would shadow it.
      const action = new URL(form.getAttribute('action') || window.location.href, window.location.href)
      return fetch(action, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'X-Autosave-On-Timeout': '1' },
        body: multipart ? data : new URLSearchParams(data)
      }).catch(() => {})
    })
  const timeLimit = new Promise((resolve) => setTimeout(resolve, 5000))
  return Promise.race([Promise.allSettled(sends), timeLimit])
}

// Messages between the tabs of this browser (same origin only).
function openChannel (onMessage) {
  if (typeof BroadcastChannel === 'function') {
    const channel = new BroadcastChannel(CHANNEL)
    channel.addEventListener('message', (event) => onMessage(event.data))
    return (message) => channel.postMessage(message)
  }
  try {
    const storage = window.localStorage
    window.addEventListener('storage', (event) => {
      if (event.key !== CHANNEL || !event.newValue) return
      try {
        onMessage(JSON.parse(event.newValue))
      } catch (e) {}
    })
    return (message) => {
      try {
        storage.setItem(CHANNEL, JSON.stringify({ ...message, at: Date.now(), nonce: Math.random() }))
      } catch (e) {}
    }
  } catch (e) {
    return () => {}
  }
}

function initSessionTimeout () {
  const data = document.body.dataset
  const timeoutSeconds = parseInt(data.sessionTimeoutSeconds, 10)
  if (!(timeoutSeconds > 0)) return
  if (typeof HTMLDialogElement !== 'function' || !('showModal' in HTMLDialogElement.prototype)) return

  let warningSeconds = parseInt(data.sessionWarningSeconds, 10)
  if (!(warningSeconds > 0)) warningSeconds = 120
  warningSeconds = Math.min(warningSeconds, timeoutSeconds)
  const warningMs = warningSeconds * 1000
  let activityMs = parseInt(data.sessionActivitySeconds, 10) * 1000
  if (!(activityMs > 0)) activityMs = 60000

  const statusUrl = data.statusUrl || '/session/status'
  const keepAliveUrl = data.keepaliveUrl || '/session/keep-alive'
  const signOutUrl = data.signoutUrl || '/sign-out'
  const timedOutUrl = data.timedOutUrl || '/sign-in?timeout=1'
  const hasAutosave = autosaveForms.length > 0

  const ui = buildDialog(hasAutosave)
  let expiresIn = parseInt(data.sessionExpiresInMs, 10)
  if (!(expiresIn >= 0)) expiresIn = timeoutSeconds * 1000
  // When the session ends if nothing happens, on this browser's clock.
  let deadline = Date.now() + expiresIn
  let lastSpokenBucket = null
  let returnFocusTo = null
  let finished = false
  let busy = false
  let lastCheck = 0
  let checking = null
  let lastActivitySent = Date.now() // the page load was a request

  const share = openChannel(onMessage)

  function remainingMs () {
    return deadline - Date.now()
  }

  function render (remaining) {
    const seconds = remaining / 1000
    ui.visual.textContent = countdownSentence(seconds)
    const bucket = Math.ceil(seconds / SCREEN_READER_UPDATE_SECONDS)
    if (bucket !== lastSpokenBucket) {
      lastSpokenBucket = bucket
      ui.spoken.textContent = countdownSentence(bucket * SCREEN_READER_UPDATE_SECONDS)
    }
  }

  function open () {
    returnFocusTo = document.activeElement
    lastSpokenBucket = null
    ui.problem.hidden = true
    render(remainingMs())
    ui.dialog.showModal() // moves focus to the first button; native focus trap
  }

  function close () {
    if (ui.dialog.open) ui.dialog.close()
    if (returnFocusTo && typeof returnFocusTo.focus === 'function') returnFocusTo.focus()
    returnFocusTo = null
  }

  // A later expiry learnt here (from the server) or from another tab.
  function extendTo (newDeadline, tell) {
    if (!(newDeadline > 0)) return
    // The server's answer is the truth for this tab; another tab's news only moves
    // the clock forward (it may have been sent before something newer happened here).
    if (tell) deadline = newDeadline
    else if (newDeadline > deadline) deadline = newDeadline
    else return
    if (tell) share({ type: 'expiry', deadline })
    if (ui.dialog.open && remainingMs() > warningMs) close()
  }

  function onMessage (message) {
    if (!message || finished) return
    if (message.type === 'expiry') {
      extendTo(Number(message.deadline), false)
    } else if (message.type === 'timed-out') {
      // Another tab was told by the server that the session is over: ask too.
      check(true)
    }
  }

  // Ask the server how long is left (this is not activity). Resolves to true
  // (signed in; the clock is set), false (signed out) or null (no answer).
  function askServer () {
    if (checking) return checking
    checking = (async () => {
      try {
        const response = await fetch(statusUrl, {
          credentials: 'same-origin',
          cache: 'no-store',
          headers: { Accept: 'application/json' }
        })
        if (!response.ok) return null
        const status = await response.json()
        if (status && status.signed_in === true) {
          extendTo(Date.now() + Number(status.expires_in_ms || 0), true)
          return true
        }
        return status && status.signed_in === false ? false : null
      } catch (e) {
        return null
      } finally {
        lastCheck = Date.now()
        checking = null
      }
    })()
    return checking
  }

  async function keepAlive () {
    const token = csrfToken()
    const response = await fetch(keepAliveUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-CSRF-Token': token,
        Accept: 'application/json'
      },
      body: new URLSearchParams({ csrf_token: token })
    })
    if (response.ok) {
      let status = null
      try {
        status = await response.json()
      } catch (e) {}
      const left = status && status.signed_in ? Number(status.expires_in_ms) : timeoutSeconds * 1000
      extendTo(Date.now() + left, true)
    }
    return response
  }

  async function staySignedIn () {
    if (busy || finished) return
    busy = true
    try {
      const response = await keepAlive()
      if (response.ok) {
        close()
      } else if (response.status === 401 || response.status === 403) {
        await check(true)
      } else {
        ui.problem.hidden = false
      }
    } catch (e) {
      ui.problem.hidden = false
    } finally {
      busy = false
    }
  }

  // Typing (or clicking) in this page is activity: tell the server, not too often.
  function activity () {
    if (finished || busy || ui.dialog.open) return
    if (Date.now() - lastActivitySent < activityMs) return
    lastActivitySent = Date.now()
    keepAlive().then((response) => {
      if (response.status === 401 || response.status === 403) check(true)
    }).catch(() => {})
  }

  function signOut () {
    finished = true
    postForm(signOutUrl, { csrf_token: csrfToken() })
  }

  // The server says the session is over: keep what was typed here, then sign in again.
  async function timeOut () {
    if (finished) return
    finished = true
    if (ui.dialog.open) render(0)
    share({ type: 'timed-out' })
    await autosave()
    window.location.assign(timedOutUrl)
  }

  // Ask the server (now, if `force`), then warn, stop warning or time out as it says.
  async function check (force) {
    if (finished) return
    const remaining = remainingMs()
    const wait = remaining <= 0 ? 1000 : ui.dialog.open ? WARNING_POLL_MS : 0
    if (!force && Date.now() - lastCheck < wait) {
      if (ui.dialog.open) render(Math.max(0, remaining))
      return
    }
    const signedIn = await askServer()
    if (finished) return
    if (signedIn === false) {
      await timeOut()
      return
    }
    const left = remainingMs()
    if (left <= warningMs) {
      if (!ui.dialog.open) open()
      else render(Math.max(0, left))
    } else if (ui.dialog.open) {
      close()
    }
  }

  function tick () {
    if (finished || busy) return
    const remaining = remainingMs()
    if (remaining > warningMs) {
      if (ui.dialog.open) close()
      return
    }
    // About to warn, or the time is up: the server decides.
    check(false)
  }

  ui.stay.addEventListener('click', staySignedIn)
  ui.signOut.addEventListener('click', signOut)
  // Escape fires "cancel": treat it as "Stay signed in".
  ui.dialog.addEventListener('cancel', (event) => {
    event.preventDefault()
    staySignedIn()
  })
  for (const type of ['input', 'keydown', 'pointerdown']) {
    document.addEventListener(type, activity, { capture: true, passive: true })
  }

  // Tell the other tabs what this page load taught us.
  share({ type: 'expiry', deadline })
  setInterval(tick, 1000)
  // Timers are throttled in background tabs: check as soon as the tab is shown.
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) tick()
  })
}

initSessionTimeout()
