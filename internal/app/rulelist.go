package app

import (
	"context"

	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/web"
)

// storeRules lists the rules a monitor stored (its config rules and those
// added through the API), for a separate web process: it shows them but
// cannot change them (the monitor owns them).
type storeRules struct{ st *store.Store }

func (s storeRules) Rules(ctx context.Context) ([]web.RuleInfo, error) {
	rows, err := s.st.Rules(ctx)
	if err != nil {
		return nil, err
	}
	return ruleInfos(rows), nil
}

// ruleInfos decodes stored rule rows for the API; a row that no longer
// decodes or validates is listed with its error.
func ruleInfos(rows []store.RuleRow) []web.RuleInfo {
	out := make([]web.RuleInfo, 0, len(rows))
	for _, row := range rows {
		r, err := decodeRule(row)
		info := web.RuleInfo{Rule: r, Source: row.Source, UpdatedAt: row.UpdatedAt}
		if err != nil {
			info.Rule.Name, info.Error = row.Name, err.Error()
		}
		out = append(out, info)
	}
	return out
}
