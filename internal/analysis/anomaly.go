package analysis

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/wsmon/wsmon/internal/anomaly"
)

// Anomaly detection behind ingest.
//
// Every committed message is observed once (ObserveMessage: its target,
// room, user, type and time) with whether its user is new to its target.
// "New" is decided by the analyzer's own bounded memory of the users it
// has seen per target (seenUsers): a user is new to a target when the
// analyzer has not seen them there among at least the last SeenUsers
// distinct (target, user) pairs. It is exact while fewer pairs than that
// exist (past it, a user silent while SeenUsers other pairs were seen
// counts as new again when they come back), and it is the same whether a
// message was counted from the hand-off or read back, and across
// restarts, since the memory is saved with the detector's state and the
// applied id (analysis_state "anomaly"). Users are remembered by a 64-bit
// FNV-1a hash of target and name: two pairs with the same hash (about one
// chance in 2^64/SeenUsers² per pair) would make the second one not new.
//
// The clock: every AdvanceEvery the detector is told that the minutes
// before now - AdvanceGrace are over (Advance), so a key without messages
// is judged (a silence). At the first message received after the start
// (or the first tick) the detector is told the minutes since the last
// saved state were not watched (Skip), so that a stop is no silence.

// SeenUsers is how many distinct (target, user) pairs the analyzer
// remembers at least (it forgets the older half of 2 × SeenUsers at once).
const SeenUsers = 100_000

// seenUsers is two generations of user hashes: a user seen in either is
// not new, and is put in the current one; when the current one holds
// SeenUsers, it becomes the previous one (the old previous is forgotten).
type seenUsers struct {
	cur, prev map[uint64]struct{}
}

func newSeenUsers() *seenUsers {
	return &seenUsers{cur: map[uint64]struct{}{}, prev: map[uint64]struct{}{}}
}

// userHash is FNV-1a 64 of target, a NUL and user.
func userHash(target, user string) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := 0; i < len(target); i++ {
		h = (h ^ uint64(target[i])) * prime
	}
	h = (h ^ 0) * prime
	for i := 0; i < len(user); i++ {
		h = (h ^ uint64(user[i])) * prime
	}
	return h
}

// isNew reports whether user is new to target, and remembers them.
func (s *seenUsers) isNew(target, user string) bool {
	h := userHash(target, user)
	if _, ok := s.cur[h]; ok {
		return false
	}
	_, old := s.prev[h]
	if len(s.cur) >= SeenUsers {
		s.prev, s.cur = s.cur, make(map[uint64]struct{}, SeenUsers)
	}
	s.cur[h] = struct{}{}
	return !old
}

// anomalyState is the detector and what feeding it needs.
type anomalyState struct {
	det   *anomaly.Detector
	seen  *seenUsers
	saves uint64 // times the state was saved (NameAnomalySaves)

	// Run goroutine only:
	now      func(time.Time) time.Time // AnomalyTime, or the identity
	started  int64                     // the detector's minute when the analyzer was made
	skipped  bool                      // the unwatched minutes before started were skipped
	at       time.Time                 // the detector's time of what is being counted (for OnAnomaly's window)
	advanced int64                     // the last minute the clock advanced to
}

// The state's encoding: magic, version, the save count, the detector's
// state (anomaly.MarshalBinary, length-prefixed), the two generations of
// user hashes (a count and 8 bytes each), and a CRC-32C of it all.
const (
	anomalyMagic   = "WSMONAS"
	anomalyVersion = 1
)

var anomalyCRC = crc32.MakeTable(crc32.Castagnoli)

var errAnomalyState = errors.New("analysis: bad saved anomaly state")

func (s *anomalyState) marshal() ([]byte, error) {
	det, err := s.det.MarshalBinary()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(anomalyMagic)+32+len(det)+8*(len(s.seen.cur)+len(s.seen.prev)))
	b = append(b, anomalyMagic...)
	b = append(b, anomalyVersion)
	b = binary.AppendUvarint(b, s.saves)
	b = binary.AppendUvarint(b, uint64(len(det)))
	b = append(b, det...)
	for _, gen := range []map[uint64]struct{}{s.seen.prev, s.seen.cur} {
		b = binary.AppendUvarint(b, uint64(len(gen)))
		for h := range gen {
			b = binary.LittleEndian.AppendUint64(b, h)
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, anomalyCRC)), nil
}

// unmarshalAnomaly decodes a saved state with the detector's options o.
func unmarshalAnomaly(o anomaly.Options, data []byte) (*anomalyState, error) {
	if len(data) < len(anomalyMagic)+1+4 || !bytes.HasPrefix(data, []byte(anomalyMagic)) {
		return nil, fmt.Errorf("%w: not a state", errAnomalyState)
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, anomalyCRC) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errAnomalyState)
	}
	r := body[len(anomalyMagic):]
	if r[0] != anomalyVersion {
		return nil, fmt.Errorf("%w: version %d", errAnomalyState, r[0])
	}
	r = r[1:]
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(r)
		if n <= 0 {
			return 0, false
		}
		r = r[n:]
		return v, true
	}
	saves, ok1 := uv()
	n, ok2 := uv()
	if !ok1 || !ok2 || n > uint64(len(r)) {
		return nil, fmt.Errorf("%w: truncated", errAnomalyState)
	}
	det, err := anomaly.Load(o, r[:n])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errAnomalyState, err)
	}
	r = r[n:]
	seen := newSeenUsers()
	for _, gen := range []*map[uint64]struct{}{&seen.prev, &seen.cur} {
		k, ok := uv()
		if !ok || k > SeenUsers || k*8 > uint64(len(r)) {
			return nil, fmt.Errorf("%w: bad user memory", errAnomalyState)
		}
		m := make(map[uint64]struct{}, k)
		for i := uint64(0); i < k; i++ {
			m[binary.LittleEndian.Uint64(r[8*i:])] = struct{}{}
		}
		r = r[8*k:]
		*gen = m
	}
	if len(r) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the end", errAnomalyState, len(r))
	}
	return &anomalyState{det: det, seen: seen, saves: saves}, nil
}

// detectorOptions are the detector's options of an analyzer's options.
func detectorOptions(opt Options, loc *time.Location) anomaly.Options {
	o := opt.Anomaly
	o.Location = loc
	o.OnEvent = nil
	return o
}

// loadAnomaly makes the detector, from the saved state when there is a
// good one.
func (a *Analyzer) loadAnomaly(ctx context.Context) error {
	o := detectorOptions(a.opt, a.loc)
	o.OnEvent = a.deliver
	now := a.opt.AnomalyTime
	if now == nil {
		now = func(t time.Time) time.Time { return t }
	}
	var st *anomalyState
	data, id, ok, err := a.opt.Store.AnalysisState(ctx, NameAnomaly)
	if err != nil {
		return err
	}
	if ok {
		if st, err = unmarshalAnomaly(o, data); err != nil {
			a.log.Warn("analysis: the saved anomaly detector state is damaged; rebuilding it from the messages", "error", err)
			st = nil
		} else {
			a.anomAt = id
		}
	}
	if st == nil {
		det, err := anomaly.New(o)
		if err != nil {
			return fmt.Errorf("analysis: anomaly detector: %w", err)
		}
		st = &anomalyState{det: det, seen: newSeenUsers()}
	}
	// The save count goes on from the highest saved: the saves row may be
	// ahead of a damaged state.
	if saves, ok, err := a.opt.Store.AnalysisApplied(ctx, NameAnomalySaves); err != nil {
		return err
	} else if ok && uint64(saves) > st.saves {
		st.saves = uint64(saves)
	}
	st.now = now
	st.started = anomaly.Minute(now(time.Now()))
	st.advanced = st.started - 1
	a.anom = st
	return nil
}

// deliver is the detector's OnEvent: events of recent messages (or of the
// clock) go to Options.OnAnomaly.
func (a *Analyzer) deliver(ev anomaly.Event) {
	if a.opt.OnAnomaly == nil || a.anom.at.Before(a.anom.now(time.Now()).Add(-a.opt.LiveWindow)) {
		return
	}
	a.opt.OnAnomaly(ev)
}

// observe feeds one message to the detector (run goroutine).
func (a *Analyzer) observe(m *item) {
	s := a.anom
	at := s.now(time.UnixMilli(m.At))
	s.at = at
	if !s.skipped && anomaly.Minute(at) >= s.started {
		s.skipStart()
	}
	newUser := m.User != "" && s.seen.isNew(m.Target, m.User)
	s.det.ObserveMessage(m.Target, m.Room, m.User, anomaly.TypeIndex(m.Type), at, newUser)
}

// skipStart tells the detector the minutes before the start were not
// watched (wsmon was stopped): a stop is no silence.
func (s *anomalyState) skipStart() {
	s.skipped = true
	s.det.Skip("", s.started)
}

// advance closes the detector's minutes before now (run goroutine) and
// reports whether any may have closed.
func (a *Analyzer) advance(now time.Time) bool {
	s := a.anom
	t := s.now(now)
	m := anomaly.Minute(t)
	s.at = t
	if !s.skipped && m >= s.started {
		s.skipStart()
	}
	if m <= s.advanced {
		return false
	}
	s.det.Advance(m)
	s.advanced = m
	return true
}

// saveAnomaly saves the detector's state with the highest id observed,
// then counts the save.
func (a *Analyzer) saveAnomaly(ctx context.Context, at int64) {
	s := a.anom
	s.saves++
	data, err := s.marshal()
	if err == nil {
		err = a.opt.Store.PutAnalysisState(ctx, NameAnomaly, at, data)
	}
	if err == nil {
		err = a.opt.Store.PutAnalysisState(ctx, NameAnomalySaves, int64(s.saves), nil)
	}
	if err != nil {
		a.log.Warn("analysis: saving the anomaly detector", "error", err)
	}
}

// AnomalyQuery selects anomalies.
type AnomalyQuery struct {
	anomaly.Query
	// ClosedOnly selects the anomalies that have ended (OpenOnly those
	// that have not).
	ClosedOnly bool
}

// AnomaliesResult is a list of anomalies, newest start first.
type AnomaliesResult struct {
	AsOfID    int64 // the highest message id observed
	Anomalies []anomaly.Anomaly
}

func listAnomalies(d *anomaly.Detector, q AnomalyQuery) []anomaly.Anomaly {
	if !q.ClosedOnly {
		return d.List(q.Query)
	}
	limit := q.Limit
	q.Limit = 0
	all := d.List(q.Query)
	out := all[:0]
	for _, x := range all {
		if !x.Open {
			out = append(out, x)
			if limit > 0 && len(out) == limit {
				break
			}
		}
	}
	return out
}

// Anomalies lists the detector's anomalies (its history: at most
// anomaly.Options.MaxHistory).
func (a *Analyzer) Anomalies(_ context.Context, q AnomalyQuery) (AnomaliesResult, error) {
	if a.anom == nil {
		return AnomaliesResult{}, ErrOff
	}
	a.mu.RLock()
	at := a.anomAt
	a.mu.RUnlock()
	return AnomaliesResult{AsOfID: at, Anomalies: listAnomalies(a.anom.det, q)}, nil
}

// Anomalies is Analyzer.Anomalies over the saved state, reloaded when it
// was saved again (the monitor saves it every minute while time passes).
func (r *Reader) Anomalies(ctx context.Context, q AnomalyQuery) (AnomaliesResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off[NameAnomaly] {
		return AnomaliesResult{}, ErrOff
	}
	if time.Since(r.checked[NameAnomaly]) >= time.Second {
		saves, ok, err := r.st.AnalysisApplied(ctx, NameAnomalySaves)
		if err != nil {
			return AnomaliesResult{}, fmt.Errorf("analysis: %w", err)
		}
		r.checked[NameAnomaly] = time.Now()
		if ok && (r.anom == nil || uint64(saves) != r.anom.saves) {
			data, id, ok, err := r.st.AnalysisState(ctx, NameAnomaly)
			if err != nil {
				return AnomaliesResult{}, fmt.Errorf("analysis: %w", err)
			}
			if ok {
				// A separate web lists what was saved: the history is
				// read with the largest bounds, whatever the monitor's.
				o := anomaly.Options{MaxKeys: 1 << 30}
				if st, err := unmarshalAnomaly(o, data); err != nil {
					r.log.Warn("analysis: the saved anomaly detector state is damaged (the monitor rebuilds it)", "error", err)
				} else {
					r.anom, r.anomAt = st, id
				}
			}
		}
	}
	res := AnomaliesResult{Anomalies: []anomaly.Anomaly{}}
	if r.anom != nil {
		res.AsOfID, res.Anomalies = r.anomAt, listAnomalies(r.anom.det, q)
	}
	return res, nil
}
