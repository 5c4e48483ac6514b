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
// Session timeout warning
//
// Enabled when <body> has data-session-timeout-seconds (the layout only sets
// it for signed-in users), with:
//   data-session-warning-seconds  how long before the timeout to warn (120)
//   data-keepalive-url            POST here to stay signed in
//   data-signout-url              POST here to sign out
//   data-timed-out-url            where to go when the time is up
// The timer starts at page load (the page load was a request that refreshed
// the session) and restarts after a successful keep-alive.
// ---------------------------------------------------------------------------

const SCREEN_READER_UPDATE_SECONDS = 15

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

// Save typed work: send each form marked data-autosave-on-timeout with its
// normal POST (same action and fields), without leaving the page.
function autosaveForms () {
  const forms = Array.from(document.querySelectorAll('form[data-autosave-on-timeout]'))
  const sends = forms.map((form) => {
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

function initSessionTimeout () {
  const data = document.body.dataset
  const timeoutSeconds = parseInt(data.sessionTimeoutSeconds, 10)
  if (!(timeoutSeconds > 0)) return
  if (typeof HTMLDialogElement !== 'function' || !('showModal' in HTMLDialogElement.prototype)) return

  let warningSeconds = parseInt(data.sessionWarningSeconds, 10)
  if (!(warningSeconds > 0)) warningSeconds = 120
  warningSeconds = Math.min(warningSeconds, timeoutSeconds)

  const keepAliveUrl = data.keepaliveUrl || '/session/keep-alive'
  const signOutUrl = data.signoutUrl || '/sign-out'
  const timedOutUrl = data.timedOutUrl || '/sign-in?timeout=1'
  const hasAutosave = document.querySelector('form[data-autosave-on-timeout]') !== null

  const ui = buildDialog(hasAutosave)
  let deadline = 0
  let lastSpokenBucket = null
  let returnFocusTo = null
  let finished = false
  let busy = false

  function restart () {
    deadline = Date.now() + timeoutSeconds * 1000
  }

  function remainingSeconds () {
    return (deadline - Date.now()) / 1000
  }

  function render (remaining) {
    ui.visual.textContent = countdownSentence(remaining)
    const bucket = Math.ceil(remaining / SCREEN_READER_UPDATE_SECONDS)
    if (bucket !== lastSpokenBucket) {
      lastSpokenBucket = bucket
      ui.spoken.textContent = countdownSentence(bucket * SCREEN_READER_UPDATE_SECONDS)
    }
  }

  function open () {
    returnFocusTo = document.activeElement
    lastSpokenBucket = null
    ui.problem.hidden = true
    render(remainingSeconds())
    ui.dialog.showModal() // moves focus to the first button; native focus trap
  }

  function close () {
    if (ui.dialog.open) ui.dialog.close()
    if (returnFocusTo && typeof returnFocusTo.focus === 'function') returnFocusTo.focus()
    returnFocusTo = null
  }

  async function staySignedIn () {
    if (busy || finished) return
    busy = true
    try {
      const token = csrfToken()
      const response = await fetch(keepAliveUrl, {
        method: 'POST',
        credentials: 'same-origin',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'X-CSRF-Token': token
        },
        body: new URLSearchParams({ csrf_token: token })
      })
      if (response.ok) {
        restart()
        close()
      } else if (response.status === 401 || response.status === 403) {
        await timeOut()
      } else {
        ui.problem.hidden = false
      }
    } catch (e) {
      ui.problem.hidden = false
    } finally {
      busy = false
    }
  }

  function signOut () {
    finished = true
    postForm(signOutUrl, { csrf_token: csrfToken() })
  }

  async function timeOut () {
    if (finished) return
    finished = true
    await autosaveForms()
    // The save above counts as activity on the server: end the session explicitly so the
    // server and the page agree that the person has been signed out.
    await fetch(signOutUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': csrfToken() },
      body: new URLSearchParams({ csrf_token: csrfToken() })
    }).catch(() => {})
    window.location.assign(timedOutUrl)
  }

  ui.stay.addEventListener('click', staySignedIn)
  ui.signOut.addEventListener('click', signOut)
  // Escape fires "cancel": treat it as "Stay signed in".
  ui.dialog.addEventListener('cancel', (event) => {
    event.preventDefault()
    staySignedIn()
  })

  function tick () {
    if (finished) return
    const remaining = remainingSeconds()
    if (remaining <= 0) {
      render(0)
      timeOut()
    } else if (remaining <= warningSeconds) {
      if (!ui.dialog.open) open()
      else render(remaining)
    }
  }

  restart()
  setInterval(tick, 1000)
  // Timers are throttled in background tabs: check as soon as the tab is shown.
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) tick()
  })
}

initSessionTimeout()
