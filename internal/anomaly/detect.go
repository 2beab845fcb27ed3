package anomaly

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Where a baseline came from, weakest last.
const (
	srcWeek uint8 = iota + 1 // the same hour of the week, median of past weeks
	srcDay                   // the same hour of other days (no sample of this hour of the week yet)
	srcEWMA                  // a running average of the last hour or so (less than a day of history)
)

var srcNames = [...]string{"", "week", "day", "ewma"}

const (
	halfLifeRate = 60      // minutes, the fallback baseline
	halfLifeDay  = 24 * 60 // minutes, the shares (new users, busiest user, types)
)

func alpha(halfLife float64) float64 { return 1 - math.Exp2(-1/halfLife) }

var (
	alphaRate = alpha(halfLifeRate)
	alphaDay  = alpha(halfLifeDay)
	alphaDisp = alpha(halfLifeDay / 2)
)

// dispPrior is the relative variance a key's window counts start with
// beyond Poisson (a 30 % standard deviation).
const dispPrior = 0.09

// top returns the busiest users of a pending minute.
func (p *pending) top() (out [topUsers]UserCount) {
	for i := 0; i < p.nu; i++ {
		u := p.users[i]
		for j := 0; j < topUsers; j++ {
			if u.Count > out[j].Count {
				copy(out[j+1:], out[j:topUsers-1])
				out[j] = u
				break
			}
		}
	}
	return out
}

// closeMinute judges ks's minute m (ks.pc holds its counts) and learns
// from it.
func (d *Detector) closeMinute(ks *keyState, m int64) {
	p := &ks.pc
	rec := minuteRec{msgs: p.msgs, newu: p.newu, types: p.types, users: p.top()}
	ks.pc = pending{}
	lm := d.localMinute(m)
	h := floorDiv(lm, 60)
	if h != ks.hour {
		ks.pushHour(d.o.Weeks)
		ks.hour, ks.hourCount, ks.hourMins = h, 0, 0
		ks.cValid = false
	}
	ks.hourCount = satAdd(ks.hourCount, rec.msgs)
	ks.hourMins++
	lam, spr, low := ks.expected(d.o.Weeks, h, mod(lm, 60))
	rec.exp, rec.spr = float32(lam), float32(spr)
	ks.ring[mod(m, ringLen)] = rec
	ks.last = m
	d.st.Minutes++
	d.judge(ks, m, &rec, low, ks.observed >= uint32(d.o.WarmUp))
	if ks.observed < math.MaxUint32 {
		ks.observed++
	}
}

// pushHour stores the hour being counted as a weekly sample of its slot,
// scaled to 60 minutes, if at least 45 of its minutes were watched.
func (ks *keyState) pushHour(weeks int) {
	if ks.hourMins < 45 {
		return
	}
	v := float64(ks.hourCount) * 60 / float64(ks.hourMins)
	s := slotOf(ks.hour)
	ks.season[s*weeks+int(ks.sh[s])] = uint32(min(v, math.MaxUint32))
	ks.sh[s] = uint8((int(ks.sh[s]) + 1) % weeks)
	if int(ks.sn[s]) < weeks {
		ks.sn[s]++
	}
}

// expected returns the expected messages, their seasonal spread and a
// cautious low rate (for silences) for the minute moh of local hour h: the
// hourly baseline of h's slot, interpolated towards the neighbouring
// hour's across the hour, per minute.
func (ks *keyState) expected(weeks int, h, moh int64) (lam, spr, low float64) {
	if !ks.cValid || ks.cHour != h {
		ks.cHour, ks.cValid = h, true
		for i := range 3 {
			H, S, L, src := ks.slotBaseline(weeks, slotOf(h+int64(i)-1))
			ks.cH[i], ks.cL[i] = H, L
			if i == 1 {
				ks.cS, ks.cSrc = S, src
			}
			if src == srcEWMA {
				ks.cValid = false // it moves every minute
			}
		}
	}
	// The low count is not interpolated but the lower of this hour's and
	// the nearer neighbour's, so that a chat that stops at 21:00 every
	// day expects no message from 21:00 on.
	f := (float64(moh) + 0.5) / 60
	H := ks.cH[1]
	var L float64
	if f < 0.5 {
		w := 0.5 - f
		H, L = H*(1-w)+ks.cH[0]*w, min(ks.cL[1], ks.cL[0])
	} else {
		w := f - 0.5
		H, L = H*(1-w)+ks.cH[2]*w, min(ks.cL[1], ks.cL[2])
	}
	return H / 60, ks.cS / 60, L / 60
}

// slotBaseline returns the expected hourly count of slot s, its spread, a
// cautious low count for silences and where they came from. The spread
// has a floor that grows as the source weakens: 20 % of the count with
// three weeks or more, 35 % with one or two, 75 % from other days, 100 %
// from the running average, so the first days report only large spikes.
// The low count is the second quietest past week of the slot with three
// or more (so an hour that was silent in two kept weeks never makes a
// silence, and one week's outage does not hide the next), the quieter of
// two, half the one sample of a single week, 40 % from other days, and nothing from the running
// average: a few hours of history cannot tell a night from an outage, so
// silences are judged from the second day on.
func (ks *keyState) slotBaseline(weeks, s int) (H, S, L float64, src uint8) {
	var v [maxWeeks]float64
	if n := int(ks.sn[s]); n > 0 {
		for i := range n {
			v[i] = float64(ks.season[s*weeks+i])
		}
		med, mad, lo := medMAD(v[:n])
		floor := 0.2
		if n < 3 {
			floor = 0.35
		}
		return med, max(1.4826*mad, floor*med), lo, srcWeek
	}
	n := 0
	for j := 1; j < 7; j++ {
		o := (s + 24*j) % slots
		if ks.sn[o] > 0 {
			v[n] = float64(ks.season[o*weeks+(int(ks.sh[o])+weeks-1)%weeks])
			n++
		}
	}
	if n > 0 {
		med, mad, _ := medMAD(v[:n])
		return med, max(1.4826*mad, 0.75*med), 0.4 * med, srcDay
	}
	H = ks.ewmaRate * 60
	return H, H, 0, srcEWMA
}

// medMAD returns the median of v, the median absolute deviation from it
// and a low value: the second lowest of three or more, the lowest of two,
// half of one (so one anomalous week does not make it 0). v is reordered.
func medMAD(v []float64) (med, mad, low float64) {
	med = median(v) // sorts v
	switch len(v) {
	case 1:
		low = v[0] / 2
	case 2:
		low = v[0]
	default:
		low = v[1]
	}
	for i := range v {
		v[i] = math.Abs(v[i] - med)
	}
	return med, median(v), low
}

func median(v []float64) float64 {
	for i := 1; i < len(v); i++ { // insertion sort: at most 8 values
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// hotMinute says a minute's count is clearly above its expectation.
func hotMinute(r *minuteRec) bool {
	e := float64(r.exp)
	return float64(r.msgs) > e+2*math.Sqrt(e)+1
}

// judge runs every detector on ks's just-closed minute m, then updates the
// running averages (leaving out what an open anomaly explains).
func (d *Detector) judge(ks *keyState, m int64, rec *minuteRec, low float64, active bool) {
	o := &d.o
	n := float64(ks.observed)
	aRate, aDay := max(alphaRate, 1/(n+1)), max(alphaDay, 1/(n+1))
	x, lam := float64(rec.msgs), float64(rec.exp)

	// Silence: a run of empty minutes that a cautious rate (about the
	// quietest kept week of the hour: a chat quiet at this hour in some
	// weeks expects little) makes improbable.
	if rec.msgs == 0 {
		if ks.silRun == 0 {
			ks.silStart = m
		}
		ks.silRun++
		ks.silE += low
		score := ks.silE * math.Log10E
		if a := ks.open[KindSilence]; a != nil {
			ks.hot[KindSilence] = m
			if score > a.Score {
				d.update(a, score, d.silenceParams(ks))
			}
		} else if active && ks.silRun >= int64(o.SilenceMinutes) && score >= o.SilenceScore {
			d.open(ks, KindSilence, "", ks.silStart, m, score, d.silenceParams(ks))
		}
	} else {
		if ks.open[KindSilence] != nil {
			d.closeAnomaly(ks, KindSilence, m)
		}
		ks.silRun, ks.silE = 0, 0
	}

	// Rate spike: the last SpikeWindow minutes against their expectation,
	// over Poisson noise plus the seasonal spread (taken as correlated
	// within the window).
	var sx, smu, ssp float64
	for i := range int64(o.SpikeWindow) {
		r := &ks.ring[mod(m-i, ringLen)]
		sx += float64(r.msgs)
		smu += float64(r.exp)
		ssp += float64(r.spr)
	}
	// The spread beyond Poisson is the larger of the seasonal spread and
	// the key's own learned dispersion (chat comes in conversations, so
	// a five-minute count varies more than a Poisson count would).
	sd := max(ssp, math.Sqrt(ks.disp)*smu)
	sig := math.Sqrt(smu + sd*sd + 1)
	z := (sx - smu) / sig
	if a := ks.open[KindSpike]; a != nil {
		if hotMinute(rec) {
			ks.hot[KindSpike] = m
		}
		if z >= o.SpikeZ/2 && sx-smu >= o.SpikeMinExcess/2 {
			if z > a.Score {
				d.update(a, z, d.spikeParams(ks, sx, smu))
			}
		} else {
			d.closeAnomaly(ks, KindSpike, ks.hot[KindSpike]+1)
		}
	} else if active && z >= o.SpikeZ && sx-smu >= o.SpikeMinExcess {
		start := m
		for i := int64(o.SpikeWindow) - 1; i >= 0; i-- {
			if hotMinute(&ks.ring[mod(m-i, ringLen)]) {
				start = m - i
				break
			}
		}
		d.open(ks, KindSpike, "", start, m, z, d.spikeParams(ks, sx, smu))
	}

	// New users: the window's new users against the usual new users per
	// message times the messages the baseline expects (not those that
	// came: a flood's own messages do not raise the bar).
	var nu, nmu float64
	for i := range int64(o.NewUserWindow) {
		r := &ks.ring[mod(m-i, ringLen)]
		nu += float64(r.newu)
		nmu += float64(r.exp)
	}
	ratio := 0.0
	if ks.ewmaMsgs > 0 {
		ratio = min(1, ks.ewmaNew/ks.ewmaMsgs)
	}
	ne := ratio * nmu
	z = (nu - ne) / math.Sqrt(ne+0.25*ne*ne+1)
	if a := ks.open[KindNewUsers]; a != nil {
		if rec.newu > 0 {
			ks.hot[KindNewUsers] = m
		}
		if z >= o.NewUserZ/2 && nu >= float64(o.NewUserMin)/2 {
			if z > a.Score {
				d.update(a, z, d.newUserParams(nu, ne))
			}
		} else {
			d.closeAnomaly(ks, KindNewUsers, ks.hot[KindNewUsers]+1)
		}
	} else if active && z >= o.NewUserZ && nu >= float64(o.NewUserMin) {
		start := m
		for i := int64(o.NewUserWindow) - 1; i >= 0; i-- {
			if ks.ring[mod(m-i, ringLen)].newu > 0 {
				start = m - i
				break
			}
		}
		d.open(ks, KindNewUsers, "", start, m, z, d.newUserParams(nu, ne))
	}

	// One user: the busiest user of the window against the usual busiest
	// user's count, with a minimum count and share.
	var ut float64
	var agg [ringLen * topUsers]UserCount
	na := 0
	for i := range int64(o.UserWindow) {
		r := &ks.ring[mod(m-i, ringLen)]
		ut += float64(r.msgs)
		for _, u := range r.users {
			if u.Count == 0 {
				continue
			}
			j := 0
			for j < na && agg[j].User != u.User {
				j++
			}
			if j == na {
				agg[na] = UserCount{User: u.User}
				na++
			}
			agg[j].Count += u.Count
		}
	}
	var top UserCount
	for _, u := range agg[:na] {
		if u.Count > top.Count {
			top = u
		}
	}
	b := ks.ewmaTop
	uz := func(c float64) float64 { return (c - b) / math.Sqrt(b+0.25*b*b+1) }
	if a := ks.open[KindUserFlood]; a != nil {
		var c float64
		for _, u := range agg[:na] {
			if u.User == a.User {
				c = float64(u.Count)
			}
		}
		for _, u := range rec.users {
			if u.User == a.User && u.Count > 0 {
				ks.hot[KindUserFlood] = m
			}
		}
		if z := uz(c); z >= o.UserZ/2 && c >= float64(o.UserMin)/2 && c >= o.UserShare/2*ut {
			if z > a.Score {
				d.update(a, z, d.userParams(a.User, c, ut, b))
			}
		} else {
			d.closeAnomaly(ks, KindUserFlood, ks.hot[KindUserFlood]+1)
		}
	} else if c := float64(top.Count); active && c >= float64(o.UserMin) && c >= o.UserShare*ut && uz(c) >= o.UserZ {
		start := m
		for i := int64(o.UserWindow) - 1; i >= 0 && start == m; i-- {
			for _, u := range ks.ring[mod(m-i, ringLen)].users {
				if u.User == top.User && u.Count > 0 {
					start = m - i
				}
			}
		}
		d.open(ks, KindUserFlood, top.User, start, m, uz(c), d.userParams(top.User, c, ut, b))
	}

	// Type mix: the window's type counts against the usual shares (G-test
	// and Jensen-Shannon divergence, both required).
	var tx [NumTypes]float64
	var tt float64
	for i := range int64(o.TypeWindow) {
		r := &ks.ring[mod(m-i, ringLen)]
		for j, c := range r.types {
			tx[j] += float64(c)
			tt += float64(c)
		}
	}
	var pb [NumTypes]float64
	var etot float64
	for _, e := range ks.ewmaTypes {
		etot += e
	}
	tz, jsd, risen := 0.0, 0.0, 0
	if etot > 0 && tt > 0 {
		eps := 0.002*etot + 1e-12
		var g float64
		for j := range pb {
			pb[j] = (ks.ewmaTypes[j] + eps) / (etot + NumTypes*eps)
			q := tx[j] / tt
			if tx[j] > 0 {
				g += 2 * tx[j] * math.Log(q/pb[j])
			}
			if mm := (q + pb[j]) / 2; mm > 0 {
				if q > 0 {
					jsd += 0.5 * q * math.Log2(q/mm)
				}
				jsd += 0.5 * pb[j] * math.Log2(pb[j]/mm)
			}
			if q-pb[j] > tx[risen]/tt-pb[risen] {
				risen = j
			}
		}
		tz = math.Sqrt(2*max(g, 0)) - math.Sqrt(2*(NumTypes-1)-1)
	}
	if a := ks.open[KindTypeMix]; a != nil {
		if t := rec.types[risen]; t > 0 && float64(t) > pb[risen]*float64(rec.msgs) {
			ks.hot[KindTypeMix] = m
		}
		if tt >= float64(o.TypeMin)/2 && jsd >= o.TypeJSD/2 && tz >= o.TypeZ/2 {
			if tz > a.Score {
				d.update(a, tz, d.typeParams(risen, tx[risen], tt, pb[risen], jsd))
			}
		} else {
			d.closeAnomaly(ks, KindTypeMix, ks.hot[KindTypeMix]+1)
		}
	} else if active && tt >= float64(o.TypeMin) && jsd >= o.TypeJSD && tz >= o.TypeZ {
		start := m
		for i := int64(o.TypeWindow) - 1; i >= 0; i-- {
			r := &ks.ring[mod(m-i, ringLen)]
			if e := pb[risen] * float64(r.msgs); float64(r.types[risen]) > e+2*math.Sqrt(e)+1 {
				start = m - i
				break
			}
		}
		d.open(ks, KindTypeMix, "", start, m, tz, d.typeParams(risen, tx[risen], tt, pb[risen], jsd))
	}

	// Learning. The fallback rate and the daily averages learn from the
	// minute capped near its expectation once warm, and not at all from
	// what an open anomaly explains.
	xc := x
	if ks.open[KindSpike] != nil {
		xc = min(x, lam)
	} else if active {
		xc = min(x, max(2*lam, lam+4*math.Sqrt(lam)+4))
	}
	ks.ewmaRate += aRate * (xc - ks.ewmaRate)
	if ks.open[KindSpike] == nil && smu >= 3 {
		// The relative variance of the window beyond Poisson, from
		// residuals capped at 4 sigma so that an anomaly teaches little.
		lim := 4 * sig
		res := min(max(sx-smu, -lim), lim)
		r := min(max((res*res-smu)/(smu*smu), 0), 1)
		ks.disp += alphaDisp * (r - ks.disp)
	}
	ks.ewmaMsgs += aDay * (xc - ks.ewmaMsgs)
	nuc := float64(rec.newu)
	if ks.open[KindNewUsers] != nil {
		nuc = min(nuc, ratio*xc)
	}
	ks.ewmaNew += aDay * (nuc - ks.ewmaNew)
	if ks.open[KindUserFlood] == nil {
		tc := float64(top.Count)
		if active {
			tc = min(tc, 3*b+5)
		}
		ks.ewmaTop += aDay * (tc - ks.ewmaTop)
	}
	if ks.open[KindTypeMix] == nil {
		for j, c := range rec.types {
			ks.ewmaTypes[j] += aDay * (float64(c) - ks.ewmaTypes[j])
		}
	}
}

func minuteTime(m int64) time.Time { return time.Unix(m*60, 0).UTC() }

func (d *Detector) open(ks *keyState, k Kind, user string, start, m int64, score float64, params map[string]string) {
	a := &Anomaly{Kind: k, Key: ks.key, User: user, Score: score, Start: minuteTime(start), Open: true, Code: k.String(), Params: params}
	a.Explanation = explain(a)
	ks.open[k] = a
	ks.hot[k] = m
	d.record(a)
}

func (d *Detector) update(a *Anomaly, score float64, params map[string]string) {
	a.Score, a.Params = score, params
	a.Explanation = explain(a)
}

// closeAnomaly ends ks's open anomaly of kind k at the start of minute end.
func (d *Detector) closeAnomaly(ks *keyState, k Kind, end int64) {
	a := ks.open[k]
	ks.open[k] = nil
	if st := a.Start.Unix() / 60; end <= st {
		end = st + 1
	}
	a.End, a.Open = minuteTime(end), false
	a.Explanation = explain(a)
	if d.o.OnEvent != nil {
		d.events = append(d.events, Event{Closed, *a})
	}
}

func num(f float64) string {
	if f >= 100 || f == math.Trunc(f) {
		return strconv.FormatFloat(math.Round(f), 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}

func pct(f float64) string { return strconv.FormatFloat(math.Round(f*1000)/10, 'f', -1, 64) }

var dayNames = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

func (d *Detector) baseParams(ks *keyState) map[string]string {
	return map[string]string{
		"hour_of_week": strconv.Itoa(slotOf(ks.hour)),
		"baseline":     srcNames[ks.cSrc],
	}
}

func (d *Detector) spikeParams(ks *keyState, x, mu float64) map[string]string {
	p := d.baseParams(ks)
	p["observed"], p["expected"], p["window_minutes"] = num(x), num(mu), strconv.Itoa(d.o.SpikeWindow)
	return p
}

func (d *Detector) silenceParams(ks *keyState) map[string]string {
	p := d.baseParams(ks)
	p["minutes"], p["expected"] = strconv.FormatInt(ks.silRun, 10), num(ks.silE)
	return p
}

func (d *Detector) newUserParams(n, e float64) map[string]string {
	return map[string]string{"observed": num(n), "expected": num(e), "window_minutes": strconv.Itoa(d.o.NewUserWindow)}
}

func (d *Detector) userParams(user string, c, total, usual float64) map[string]string {
	return map[string]string{"user": user, "observed": num(c), "total": num(total), "share": pct(c / max(total, 1)),
		"usual": num(usual), "window_minutes": strconv.Itoa(d.o.UserWindow)}
}

func (d *Detector) typeParams(typ int, c, total, usual, jsd float64) map[string]string {
	return map[string]string{"type": string(typeNames[typ]), "observed": num(c), "total": num(total),
		"share": pct(c / max(total, 1)), "usual_share": pct(usual), "jsd": strconv.FormatFloat(jsd, 'f', 3, 64),
		"window_minutes": strconv.Itoa(d.o.TypeWindow)}
}

// explain writes a's explanation in English from its code and parameters
// (the dashboard's translations use the same).
func explain(a *Anomaly) string {
	p := a.Params
	var where string
	if a.Key.Room != "" {
		where = fmt.Sprintf("in room %q of target %q", a.Key.Room, a.Key.Target)
	} else {
		where = fmt.Sprintf("in target %q", a.Key.Target)
	}
	when := ""
	if h, err := strconv.Atoi(p["hour_of_week"]); err == nil && h >= 0 && h < slots {
		when = fmt.Sprintf(" for %s %02d:00", dayNames[h/24], h%24)
		switch p["baseline"] {
		case "day":
			when += " (from the same hour on other days)"
		case "ewma":
			when += " (from the last hours: less than a day of history)"
		}
	}
	switch a.Kind {
	case KindSpike:
		return fmt.Sprintf("Rate spike %s: %s messages in %s minutes, about %s expected%s.", where, p["observed"], p["window_minutes"], p["expected"], when)
	case KindSilence:
		return fmt.Sprintf("Silence %s: no message for %s minutes, about %s expected%s.", where, p["minutes"], p["expected"], when)
	case KindNewUsers:
		return fmt.Sprintf("New-user flood %s: %s users new to the target in %s minutes, about %s expected.", where, p["observed"], p["window_minutes"], p["expected"])
	case KindUserFlood:
		return fmt.Sprintf("One user flooding %s: %q sent %s of %s messages (%s %%) in %s minutes; the busiest user usually sends about %s.", where, p["user"], p["observed"], p["total"], p["share"], p["window_minutes"], p["usual"])
	case KindTypeMix:
		return fmt.Sprintf("Message-type mix changed %s: %s messages were %s %% of %s in %s minutes, usually %s %%.", where, p["type"], p["share"], p["total"], p["window_minutes"], p["usual_share"])
	}
	return a.Code
}
