// Package e2e holds wsmon's browser end-to-end tests (test files only).
//
// Each test runs the real product in-process (a demo chat server plus
// app.Run in ModeAll, with the database in a temp dir, on 127.0.0.1) and
// drives the embedded dashboard in headless Chromium through chromedp:
// the summary cards, status, charts and leaderboard; a live message
// arriving over the stream; search in Chinese and English with <mark>
// highlighting; XSS payloads shown as literal text with nothing run; the
// CSP header; the English/Chinese language switch; logging in with a
// web_token and out again; the ingest counters; the red banner while the
// journal cannot write (the data directory on a tmpfs the test mounts and
// fills: root only); TestViews: the leaderboard's empty state and what it
// counts, the version badge, message rows opening their context and user
// page (live stream, context, user page), the target / room / time-range
// selection in the URL, the targets overview, the status card's next
// attempt and a stopped monitor seen from a separate wsmon web, the
// sessions view, the login form (errors translated by their code), keyboard
// use (search on Enter, focus order, Enter/Escape on the context), a
// Chinese browser (Intl formatting, translated API errors) and the phone
// width (no view scrolls sideways; a screenshot is saved as an artifact);
// TestAnalysis: the analysis view with trending terms and sentiment on
// (the API's ranking, a term's sparkline, a term opening its search, the
// room filter, the sentiment chart, per-room table and most negative
// messages opening their context, both languages, no sideways scrolling)
// and off (each tab names the key that turns it on); its anomalies part
// (list, filters, explanations, shading on the dashboard's chart) skips
// while GET /api/analysis/anomalies answers 404; TestBehaviour: with
// analysis_behaviour on, the users page (the API's users in its order,
// sorted, searched, paged), a user page's behaviour figures (sessions,
// rooms, who speaks before and after), the activity tab's series and
// totals and the reports tab (its summary, the HTML report in a new tab),
// both languages, no sideways scrolling at a phone's width (a screenshot
// of a user page saved as an artifact), and with it off each view naming
// the key without asking; and, on request, a screenshot of the dashboard
// in Chinese for the docs.
//
// Run them with
//
//	go test ./internal/e2e/
//
// They need the UI built into the binary (cd web && npm ci && npm run
// build, or make) and a Chromium. Environment:
//
//   - WSMON_CHROMIUM: path or name of the browser to run; by default
//     /usr/bin/chromium, else `chromium` on PATH.
//   - WSMON_REQUIRE_BROWSER=1: fail instead of skip when no browser is
//     found, the UI is not built or a tmpfs cannot be mounted (CI sets it).
//   - WSMON_SCREENSHOT=PATH: also save a full-page 1280x900 PNG of the
//     dashboard in Chinese with demo traffic to PATH (docs/dashboard.png
//     is made that way; it needs a Chinese font, fonts-noto-cjk); without
//     it that test is skipped.
//   - WSMON_ARTIFACT_DIR: where screenshots for people to look at are
//     written (the phone-width dashboard); by default bin/e2e-artifacts/.
//   - WSMON_TEST_LOG=1: show wsmon's own logs.
package e2e
