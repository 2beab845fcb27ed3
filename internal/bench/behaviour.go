package bench

import (
	"context"
	"time"

	"github.com/wsmon/wsmon/internal/analysis"
	"github.com/wsmon/wsmon/internal/store"
)

// behaviourCalls are the queries behind the users and activity endpoints,
// as the web handlers make them: list pages (first, 100 pages deep, by
// each order, a substring most names hold and one none holds: the
// adversarial walk of every row), the most and a least active user's page,
// and activity by day, hour, room, user and minute.
func behaviourCalls(ctx context.Context, an *analysis.Analyzer, rooms []string, topUser, rareUser string, lastAt time.Time) []call {
	deep := ""
	page := func(q analysis.UsersQuery) error { _, err := an.Users(ctx, q); return err }
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.Local) }
	end := lastAt.Add(time.Minute)
	month := day(end).AddDate(0, 0, -29)
	activity := func(q analysis.ActivityQuery) error { _, err := an.Activity(ctx, q); return err }
	return []call{
		{"/api/analysis/users (first page)", func(int) error { return page(analysis.UsersQuery{Sort: store.SortMessages, Desc: true, Limit: 50}) }},
		{"/api/analysis/users (100 pages deep)", func(i int) error {
			if deep == "" {
				q := analysis.UsersQuery{Sort: store.SortMessages, Desc: true, Limit: 50}
				for range 100 {
					res, err := an.Users(ctx, q)
					if err != nil || res.NextCursor == "" {
						return err
					}
					q.Cursor = res.NextCursor
				}
				deep = q.Cursor
			}
			return page(analysis.UsersQuery{Sort: store.SortMessages, Desc: true, Limit: 50, Cursor: deep})
		}},
		{"/api/analysis/users (by last seen)", func(int) error { return page(analysis.UsersQuery{Sort: store.SortLastSeen, Desc: true, Limit: 50}) }},
		{"/api/analysis/users (by name)", func(int) error { return page(analysis.UsersQuery{Sort: store.SortName, Limit: 50}) }},
		{"/api/analysis/users (q common)", func(int) error {
			return page(analysis.UsersQuery{Contains: "_", Sort: store.SortMessages, Desc: true, Limit: 50})
		}},
		{"/api/analysis/users (q matching none)", func(int) error {
			return page(analysis.UsersQuery{Contains: "no such name", Sort: store.SortMessages, Desc: true, Limit: 50})
		}},
		{"/api/analysis/users/{name} (top user)", func(int) error {
			_, err := an.User(ctx, topUser, month, day(end))
			return err
		}},
		{"/api/analysis/users/{name} (rare user)", func(int) error {
			_, err := an.User(ctx, rareUser, month, day(end))
			if err == analysis.ErrNotFound {
				err = nil // the Zipf tail may not have spoken
			}
			return err
		}},
		{"/api/analysis/activity (30 days)", func(int) error { return activity(analysis.ActivityQuery{From: month, To: end, Step: analysis.StepDay}) }},
		{"/api/analysis/activity (3 days, hourly)", func(int) error {
			return activity(analysis.ActivityQuery{From: end.Add(-72 * time.Hour), To: end, Step: analysis.StepHour})
		}},
		{"/api/analysis/activity (room, 30 days)", func(i int) error {
			return activity(analysis.ActivityQuery{Room: rooms[i%len(rooms)], From: month, To: end, Step: analysis.StepDay})
		}},
		{"/api/analysis/activity (top user, 30 days)", func(int) error {
			return activity(analysis.ActivityQuery{User: topUser, From: month, To: end, Step: analysis.StepDay})
		}},
		{"/api/analysis/activity (1 hour by minute)", func(int) error {
			return activity(analysis.ActivityQuery{From: end.Add(-time.Hour), To: end, Step: analysis.StepMinute})
		}},
	}
}
