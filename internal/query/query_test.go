package query_test

import (
	"github.com/wsmon/wsmon/internal/export"
	"github.com/wsmon/wsmon/internal/query"
	"github.com/wsmon/wsmon/internal/web"
)

// The read path is what the API and exports read through. Its answers are
// tested against the full-scan references on the web package's fixture
// (internal/web/querypath_test.go) and through every API test.
var (
	_ web.Store     = (*query.Source)(nil)
	_ export.Source = (*query.Source)(nil)
)
