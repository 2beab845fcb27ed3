package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// Languages of the rendered reports.
const (
	LangEN = "en"
	LangZH = "zh"
)

// ValidLang reports whether lang is LangEN or LangZH.
func ValidLang(lang string) bool { return lang == LangEN || lang == LangZH }

// WriteJSON writes r as one JSON document (HTML characters escaped, as
// the API's JSON is).
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// labels are the page's words per language; every key exists in both.
var labels = map[string]map[string]string{
	LangEN: {
		"daily": "Daily report", "weekly": "Weekly report", "range": "Report",
		"all_targets": "all targets", "target": "Target", "period": "Period", "zone": "time zone", "generated": "Generated",
		"volume": "Messages", "previous": "previous period", "change": "change", "peak": "Busiest hour", "none": "none",
		"new_users": "New users", "hours": "Messages per hour of day", "days": "Messages per day", "targets": "Messages per target",
		"top_users": "Most active users seen in the period", "top_users_note": "all-time message counts: the statistics keep no per-period counts per user",
		"user": "User", "messages": "Messages", "first_seen": "First seen", "new": "new",
		"terms": "Trending terms", "term": "Term", "count": "Count", "score": "Rise",
		"sentiment": "Sentiment", "scored": "chat messages scored", "average": "average", "pos": "positive", "neu": "neutral", "neg": "negative",
		"most_negative": "Most negative messages", "deleted": "(no longer stored)",
		"anomalies": "Anomalies", "kind": "Kind", "start": "Start", "end": "End", "ongoing": "ongoing", "explanation": "Explanation",
		"alerts": "Alerts", "rule": "Rule", "connection": "Connection", "sessions": "sessions", "ended_with_error": "ended with an error",
		"failed_attempts": "failed connection attempts", "gaps": "Not connected", "from": "From", "to": "To", "duration": "Duration",
		"errors": "Sessions that ended with an error", "error": "Error",
		"unavailable": "Turned off in the configuration", "incomplete": "The hourly and user figures do not include the last minutes yet (the index writes its rollups every 2 minutes).",
		"room": "Room", "rooms": "Busiest rooms",
	},
	LangZH: {
		"daily": "日报", "weekly": "周报", "range": "报表",
		"all_targets": "全部目标", "target": "目标", "period": "时段", "zone": "时区", "generated": "生成时间",
		"volume": "消息数", "previous": "上一时段", "change": "变化", "peak": "最繁忙的小时", "none": "无",
		"new_users": "新用户", "hours": "按小时的消息数", "days": "每日消息数", "targets": "各目标消息数",
		"top_users": "本时段出现的最活跃用户", "top_users_note": "为全部时间的消息数：统计不按时段保存每个用户的计数",
		"user": "用户", "messages": "消息数", "first_seen": "首次出现", "new": "新",
		"terms": "热门词", "term": "词", "count": "次数", "score": "上升",
		"sentiment": "情感", "scored": "条聊天消息已评分", "average": "平均", "pos": "正面", "neu": "中性", "neg": "负面",
		"most_negative": "最负面的消息", "deleted": "（已不再保存）",
		"anomalies": "异常", "kind": "类型", "start": "开始", "end": "结束", "ongoing": "进行中", "explanation": "说明",
		"alerts": "告警", "rule": "规则", "connection": "连接", "sessions": "个会话", "ended_with_error": "个因错误结束",
		"failed_attempts": "次连接失败", "gaps": "未连接", "from": "从", "to": "到", "duration": "时长",
		"errors": "因错误结束的会话", "error": "错误",
		"unavailable": "配置中已关闭", "incomplete": "按小时和用户的数字尚未包含最近几分钟（索引每 2 分钟写入一次汇总）。",
		"room": "房间", "rooms": "最活跃的房间",
	},
}

// css is the page's whole style sheet, inline: the page loads nothing.
const css = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;color:#212529;margin:24px auto;max-width:960px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid #dee2e6;padding-bottom:4px}
.meta{color:#6c757d}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{border:1px solid #dee2e6;border-radius:6px;padding:8px 12px;min-width:150px}.card b{display:block;font-size:20px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #eee;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.c{white-space:pre-wrap;word-break:break-word}
svg{width:100%;height:auto}svg rect{fill:#0d6efd}svg text{font-size:10px;fill:#495057}
.note{color:#6c757d;font-size:12px}.up{color:#198754}.down{color:#dc3545}
@media print{body{margin:0}.card{break-inside:avoid}h2{break-after:avoid}}`

// StyleCSP is the Content-Security-Policy source of the page's one
// inline style sheet ('sha256-…'), for a policy that allows nothing else.
func StyleCSP() string {
	h := sha256.Sum256([]byte(css))
	return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
}

// ContentSecurityPolicy is the policy to serve the HTML page under: no
// script, no request, only its own inline style sheet and inline SVG.
func ContentSecurityPolicy() string {
	return "default-src 'none'; style-src " + StyleCSP() + "; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

var pageTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"t":   func(string) string { return "" }, // replaced per render
	"num": num, "dt": func(time.Time) string { return "" }, "dur": dur, "pct": pct,
	"f2": func(f float64) string { return fmt.Sprintf("%.2f", f) },
}).Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsmon · {{t .R.Kind}} {{.R.From}}{{if ne .R.From .R.To}} – {{.R.To}}{{end}}</title>
<style>` + css + `</style></head><body>
{{$r := .R}}
<h1>{{t $r.Kind}} · {{if $r.Target}}{{$r.Target}}{{else}}{{t "all_targets"}}{{end}}</h1>
<div class="meta">{{t "period"}}: {{$r.From}}{{if ne $r.From $r.To}} – {{$r.To}}{{end}} ({{t "zone"}} {{$r.TimeZone}}) · {{t "generated"}} {{dt $r.GeneratedAt}}</div>
<div class="cards">
<div class="card">{{t "volume"}}<b>{{num $r.Volume.Messages}}</b><span class="{{if ge $r.Volume.Delta 0}}up{{else}}down{{end}}">{{if ge $r.Volume.Delta 0}}+{{end}}{{num $r.Volume.Delta}}{{with $r.Volume.DeltaPercent}} ({{pct .}}){{end}}</span> <span class="note">{{t "previous"}} {{num $r.Volume.Previous}}</span></div>
<div class="card">{{t "peak"}}<b>{{with $r.Peak}}{{if ne $r.Kind "daily"}}{{.Date}} {{end}}{{printf "%02d:00" .Hour}}{{else}}{{t "none"}}{{end}}</b>{{with $r.Peak}}{{num .Count}} {{t "messages"}}{{end}}</div>
<div class="card">{{t "new_users"}}<b>{{num $r.NewUsers.Count}}</b></div>
<div class="card">{{t "alerts"}}<b>{{num $r.Alerts.Total}}</b></div>
<div class="card">{{t "anomalies"}}<b>{{len $r.Anomalies}}</b></div>
<div class="card">{{t "connection"}}<b>{{$r.Connection.Sessions}} {{t "sessions"}}</b>{{$r.Connection.EndedWithError}} {{t "ended_with_error"}}</div>
</div>
{{if not $r.RollupsComplete}}<p class="note">{{t "incomplete"}}</p>{{end}}
{{if $r.Unavailable}}<p class="note">{{t "unavailable"}}: {{range $i, $u := $r.Unavailable}}{{if $i}}, {{end}}{{t $u}}{{end}}</p>{{end}}

<h2>{{t "hours"}}</h2>
{{template "bars" .HourBars}}
{{if gt (len $r.Days) 1}}<h2>{{t "days"}}</h2>{{template "bars" .DayBars}}{{end}}
{{if gt (len $r.Targets) 1}}<h2>{{t "targets"}}</h2><table>{{range $r.Targets}}<tr><td>{{.Target}}</td><td class="n">{{num .Count}}</td></tr>{{end}}</table>{{end}}

<h2>{{t "new_users"}} ({{num $r.NewUsers.Count}})</h2>
<p>{{range $i, $u := $r.NewUsers.Names}}{{if $i}}, {{end}}{{$u}}{{else}}{{t "none"}}{{end}}{{if gt $r.NewUsers.Count (len $r.NewUsers.Names)}} …{{end}}</p>

<h2>{{t "top_users"}}</h2>
<p class="note">{{t "top_users_note"}}</p>
{{if $r.TopUsers}}<table><tr><th>{{t "user"}}</th><th class="n">{{t "messages"}}</th><th>{{t "first_seen"}}</th></tr>
{{range $r.TopUsers}}<tr><td>{{.User}}{{if .New}} <span class="note">({{t "new"}})</span>{{end}}</td><td class="n">{{num .Messages}}</td><td>{{dt .FirstSeen}}</td></tr>{{end}}</table>{{else}}<p>{{t "none"}}</p>{{end}}

{{if $r.Rooms}}<h2>{{t "rooms"}}</h2><table><tr><th>{{t "target"}}</th><th>{{t "room"}}</th><th class="n">{{t "messages"}}</th></tr>
{{range $r.Rooms}}<tr><td>{{.Target}}</td><td>{{.Room}}</td><td class="n">{{num .Messages}}</td></tr>{{end}}</table>{{end}}

<h2>{{t "terms"}}</h2>
{{if $r.Terms}}<table><tr><th>{{t "term"}}</th><th class="n">{{t "count"}}</th><th class="n">{{t "score"}}</th></tr>
{{range $r.Terms}}<tr><td>{{.Term}}</td><td class="n">{{.Count}}</td><td class="n">{{f2 .Score}}</td></tr>{{end}}</table>{{else}}<p>{{t "none"}}</p>{{end}}

<h2>{{t "sentiment"}}</h2>
{{with $r.Sentiment}}<p>{{num .N}} {{t "scored"}} · {{t "average"}} {{f2 .Average}} · {{t "pos"}} {{.Pos}} · {{t "neu"}} {{.Neu}} · {{t "neg"}} {{.Neg}}</p>
{{if .MostNegative}}<h3>{{t "most_negative"}}</h3><table>{{range .MostNegative}}<tr><td class="n">{{f2 .Score}}</td><td>{{.User}}</td><td>{{.Room}}</td><td class="c">{{if .Deleted}}{{t "deleted"}}{{else}}{{.Content}}{{end}}</td></tr>{{end}}</table>{{end}}
{{else}}<p>{{t "none"}}</p>{{end}}

<h2>{{t "anomalies"}}</h2>
{{if $r.Anomalies}}<table><tr><th>{{t "kind"}}</th><th>{{t "target"}}</th><th>{{t "start"}}</th><th>{{t "end"}}</th><th>{{t "explanation"}}</th></tr>
{{range $r.Anomalies}}<tr><td>{{.Kind}}</td><td>{{.Target}}{{if .Room}} · {{.Room}}{{end}}</td><td>{{dt .Start}}</td><td>{{if .Open}}{{t "ongoing"}}{{else}}{{dt .End}}{{end}}</td><td class="c">{{.Explanation}}</td></tr>{{end}}</table>{{else}}<p>{{t "none"}}</p>{{end}}

<h2>{{t "alerts"}} ({{num $r.Alerts.Total}})</h2>
{{if $r.Alerts.ByRule}}<table><tr><th>{{t "rule"}}</th><th class="n">{{t "count"}}</th></tr>
{{range $r.Alerts.ByRule}}<tr><td>{{.Rule}} <span class="note">{{.RuleType}}</span></td><td class="n">{{num .Count}}</td></tr>{{end}}</table>{{else}}<p>{{t "none"}}</p>{{end}}

<h2>{{t "connection"}}</h2>
<p>{{$r.Connection.Sessions}} {{t "sessions"}} · {{$r.Connection.EndedWithError}} {{t "ended_with_error"}} · {{num $r.Connection.FailedAttempts}} {{t "failed_attempts"}} · {{t "gaps"}} {{dur $r.Connection.GapSeconds}}</p>
{{if $r.Connection.Gaps}}<h3>{{t "gaps"}}</h3><table><tr><th>{{t "target"}}</th><th>{{t "from"}}</th><th>{{t "to"}}</th><th class="n">{{t "duration"}}</th></tr>
{{range $r.Connection.Gaps}}<tr><td>{{.Target}}</td><td>{{dt .From}}</td><td>{{dt .To}}</td><td class="n">{{dur .Seconds}}</td></tr>{{end}}</table>{{end}}
{{if $r.Connection.Errors}}<h3>{{t "errors"}}</h3><table><tr><th>{{t "target"}}</th><th>{{t "end"}}</th><th>{{t "error"}}</th></tr>
{{range $r.Connection.Errors}}<tr><td>{{.Target}}</td><td>{{dt .DisconnectedAt}}</td><td class="c">{{.Error}}</td></tr>{{end}}</table>{{end}}
</body></html>
{{define "bars"}}<svg viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="{{.Title}}" xmlns="http://www.w3.org/2000/svg">{{range .Bars}}<rect x="{{.X}}" y="{{.Y}}" width="{{.BW}}" height="{{.BH}}"><title>{{.Label}}: {{.Count}}</title></rect>{{if .Tick}}<text x="{{.TX}}" y="{{.TY}}" text-anchor="middle">{{.Tick}}</text>{{end}}{{end}}</svg>{{end}}`))

// bars is an inline SVG bar chart, drawn here (no script).
type bars struct {
	W, H  int
	Title string
	Bars  []bar
}

type bar struct {
	X, Y, BW, BH, TX, TY string
	Label, Tick          string
	Count                int64
}

func barChart(title string, labels, ticks []string, counts []int64) bars {
	const w, h, top, axis = 720, 180, 8, 18
	c := bars{W: w, H: h, Title: title}
	var most int64 = 1
	for _, n := range counts {
		most = max(most, n)
	}
	slot := float64(w) / float64(max(1, len(counts)))
	for i, n := range counts {
		bh := float64(h-top-axis) * float64(n) / float64(most)
		f := func(v float64) string { return fmt.Sprintf("%.1f", v) }
		c.Bars = append(c.Bars, bar{X: f(float64(i)*slot + slot*0.1), Y: f(float64(h-axis) - bh), BW: f(slot * 0.8), BH: f(bh),
			TX: f(float64(i)*slot + slot/2), TY: f(float64(h - 5)), Label: labels[i], Tick: ticks[i], Count: n})
	}
	return c
}

// WriteHTML writes r as a self-contained HTML page in lang (LangEN or
// LangZH; anything else is English). Every value from the chat (user
// names, content, rooms, terms, errors) is escaped by html/template; the
// page has no script and loads nothing: the charts are inline SVG and
// the style sheet is inline (ContentSecurityPolicy allows exactly it).
func WriteHTML(w io.Writer, r *Report, lang string) error {
	if !ValidLang(lang) {
		lang = LangEN
	}
	l := labels[lang]
	loc := r.Start.Location()
	t, err := pageTmpl.Clone()
	if err != nil {
		return fmt.Errorf("report: template: %w", err)
	}
	t.Funcs(template.FuncMap{
		"t": func(k string) string {
			if v, ok := l[k]; ok {
				return v
			}
			return k
		},
		"dt": func(x time.Time) string {
			if x.IsZero() {
				return "–"
			}
			return x.In(loc).Format("2006-01-02 15:04")
		},
	})
	hl, ht := make([]string, 24), make([]string, 24)
	for h := range 24 {
		hl[h] = fmt.Sprintf("%02d:00", h)
		if h%3 == 0 {
			ht[h] = fmt.Sprintf("%02d", h)
		}
	}
	dl, dticks, dc := make([]string, len(r.Days)), make([]string, len(r.Days)), make([]int64, len(r.Days))
	every := max(1, len(r.Days)/12)
	for i, d := range r.Days {
		dl[i], dc[i] = d.Date, d.Count
		if i%every == 0 {
			dticks[i] = d.Date[5:]
		}
	}
	var buf bytes.Buffer
	err = t.Execute(&buf, map[string]any{"R": r, "Lang": lang,
		"HourBars": barChart(l["hours"], hl, ht, r.Hours[:]), "DayBars": barChart(l["days"], dl, dticks, dc)})
	if err != nil {
		return fmt.Errorf("report: render: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// Title is the report's one-line title in lang, e.g. "Daily report
// 2026-01-02 · all targets".
func Title(r *Report, lang string) string {
	if !ValidLang(lang) {
		lang = LangEN
	}
	l := labels[lang]
	p := r.From
	if r.To != r.From {
		p += " – " + r.To
	}
	tg := r.Target
	if tg == "" {
		tg = l["all_targets"]
	}
	return "[wsmon] " + l[r.Kind] + " " + p + " · " + tg
}

// Summary is a few lines of plain text for chat bots and webhooks: the
// title, the volume against the previous period, the busiest hour, new
// users, alerts, anomalies and connection problems.
func Summary(r *Report, lang string) string {
	if !ValidLang(lang) {
		lang = LangEN
	}
	l := labels[lang]
	var b strings.Builder
	b.WriteString(Title(r, lang) + "\n")
	ch := num(r.Volume.Delta)
	if r.Volume.Delta >= 0 {
		ch = "+" + ch
	}
	if r.Volume.DeltaPercent != nil {
		ch += " (" + pct(r.Volume.DeltaPercent) + ")"
	}
	fmt.Fprintf(&b, "%s: %s (%s %s: %s)\n", l["volume"], num(r.Volume.Messages), l["change"], l["previous"], ch)
	if p := r.Peak; p != nil {
		when := fmt.Sprintf("%02d:00", p.Hour)
		if r.Kind != KindDaily {
			when = p.Date + " " + when
		}
		fmt.Fprintf(&b, "%s: %s (%s)\n", l["peak"], when, num(p.Count))
	}
	fmt.Fprintf(&b, "%s: %s · %s: %s · %s: %d\n", l["new_users"], num(r.NewUsers.Count), l["alerts"], num(r.Alerts.Total), l["anomalies"], len(r.Anomalies))
	c := r.Connection
	fmt.Fprintf(&b, "%s: %d %s, %d %s, %s %s", l["connection"], c.Sessions, l["sessions"], c.EndedWithError, l["ended_with_error"], l["gaps"], dur(c.GapSeconds))
	return b.String()
}

// num writes n with thousands separators.
func num(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func pct(p *float64) string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf("%+.1f%%", *p)
}

// dur writes seconds as 1h02m, 5m03s or 12s.
func dur(secs float64) string {
	d := time.Duration(secs * float64(time.Second)).Round(time.Second)
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}
