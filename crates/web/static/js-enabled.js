// Loaded with a plain <script src> as the first element in <body>.
// External file because the Content-Security-Policy forbids inline scripts.
document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? ' govuk-frontend-supported' : '');
