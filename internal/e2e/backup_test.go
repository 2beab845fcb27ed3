package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wsmon/wsmon/internal/webui"
)

// TestDashboardBackupButton: "Back up now" on the dashboard writes a
// backup through POST /api/backup while the demo target sends, and shows
// the file written; the file is a real backup in data/backups/.
func TestDashboardBackupButton(t *testing.T) {
	if !webui.Built() {
		skipOrFail(t, "UI not built: run make (or cd web && npm ci && npm run build)")
	}
	b := startBrowser(t)
	w := startWsmon(t, fastStats)
	tb := b.newTab(t)
	tb.openDashboard(w.base)
	tb.waitJS("the backup button", `document.querySelector('#backup-button') !== null`,
		`document.querySelector('#ingest-health')?.outerHTML ?? 'no #ingest-health'`)
	tb.do("click the backup button", chromedp.Click(chromedp.ID("backup-button")))
	tb.waitJS("the backup's file name", `/backup_\d{8}_\d{6}\.db/.test(document.querySelector('#backup-result').textContent)`,
		`document.querySelector('#backup-result').textContent`)
	text := eval[string](tb, `document.querySelector('#backup-result').textContent`)
	file := text[strings.Index(text, "backup_"):]
	file = file[:strings.Index(file, ".db")+3]
	if _, err := os.Stat(filepath.Join(filepath.Dir(w.cfg.DatabasePath), "backups", file)); err != nil {
		t.Fatalf("%q shown, but: %v", text, err)
	}
}
