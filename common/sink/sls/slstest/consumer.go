package slstest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/pierrec/lz4/v4"
)

// Read-side limits and defaults.
const (
	// DefaultShards is the number of shards of every logstore unless
	// Options.Shards says otherwise.
	DefaultShards = 2
	// MaxPullCount is the largest PullLogs count (LogGroups per call).
	MaxPullCount = 1000
	// cursorBase offsets cursor values so that they look like the
	// service's large numbers and a cursor of one shard is not valid in
	// another.
	cursorBase = 1_500_000_000_000_000_000
	cursorStep = 1_000_000_000_000
)

// response is a successful answer.
type response struct {
	header map[string]string
	body   []byte
	json   any
}

func (r *response) write(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header().Set(k, v)
	}
	body := r.body
	if r.json != nil {
		body, _ = json.Marshal(r.json)
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// shardGroup is one stored LogGroup (its protobuf bytes) and the time the
// server received it.
type shardGroup struct {
	raw      []byte
	received time.Time
}

type shard struct {
	id         int
	begin, end string // hash key range [begin, end), 32 hex digits
	created    time.Time
	groups     []shardGroup
}

type consumerState struct {
	last     time.Time
	beats    int // heartbeats received
	reported map[int]bool
}

// release is a shard taken from a live consumer that may still read it.
type release struct {
	from  string
	beats int // from's heartbeat count when the shard was taken
}

type checkpoint struct {
	cursor   string
	updated  time.Time
	consumer string
}

type consumerGroup struct {
	timeout   int
	inOrder   bool
	consumers map[string]*consumerState
	owner     map[int]string  // shard → consumer it is assigned to
	releasing map[int]release // shard → former owner, until it stops reporting it
	ckpt      map[int]checkpoint
}

type logstoreState struct {
	shards []*shard
	rr     int
	groups map[string]*consumerGroup
}

// route picks the shard for a hash key, or the next one round-robin.
func (st *logstoreState) route(hashKey string) *shard {
	if hashKey == "" {
		sh := st.shards[st.rr%len(st.shards)]
		st.rr++
		return sh
	}
	for _, sh := range st.shards {
		if hashKey >= sh.begin && hashKey < sh.end {
			return sh
		}
	}
	return st.shards[len(st.shards)-1]
}

// logstoreLocked returns the read-side state of project/logstore, making
// it on first use. Callers hold s.mu.
func (s *Server) logstoreLocked(project, logstore string) *logstoreState {
	if s.stores == nil {
		s.stores = map[string]*logstoreState{}
	}
	key := project + "/" + logstore
	if st, ok := s.stores[key]; ok {
		return st
	}
	n := s.opts.Shards
	if n <= 0 {
		n = DefaultShards
	}
	st := &logstoreState{groups: map[string]*consumerGroup{}}
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	for i := range n {
		b := new(big.Int).Div(new(big.Int).Mul(space, big.NewInt(int64(i))), big.NewInt(int64(n)))
		e := new(big.Int).Div(new(big.Int).Mul(space, big.NewInt(int64(i+1))), big.NewInt(int64(n)))
		end := fmt.Sprintf("%032x", e)
		if i == n-1 {
			end = "ffffffffffffffffffffffffffffffff~" // past every key
		}
		st.shards = append(st.shards, &shard{id: i, begin: fmt.Sprintf("%032x", b), end: end, created: s.opts.Now()})
	}
	s.stores[key] = st
	return st
}

// AddLogGroup stores lg in a shard of project/logstore as if PutLogs had
// delivered it at received (test setup: history at chosen receive times).
// The logs are not added to Logs.
func (s *Server) AddLogGroup(project, logstore string, shardID int, received time.Time, lg *slssdk.LogGroup) error {
	raw, err := lg.Marshal()
	if err != nil {
		return fmt.Errorf("slstest: marshal log group: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.opts.Projects[project], logstore) {
		return fmt.Errorf("slstest: logstore %s/%s is not configured", project, logstore)
	}
	st := s.logstoreLocked(project, logstore)
	if shardID < 0 || shardID >= len(st.shards) {
		return fmt.Errorf("slstest: shard %d does not exist", shardID)
	}
	sh := st.shards[shardID]
	sh.groups = append(sh.groups, shardGroup{raw: raw, received: received})
	return nil
}

// Assignment returns the shards each live consumer of a consumer group is
// assigned, as the service last computed it.
func (s *Server) Assignment(project, logstore, group string) map[string][]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	cg := s.logstoreLocked(project, logstore).groups[group]
	out := map[string][]int{}
	if cg == nil {
		return out
	}
	for sh, c := range cg.owner {
		out[c] = append(out[c], sh)
	}
	for _, v := range out {
		sort.Ints(v)
	}
	return out
}

// Checkpoints returns the committed checkpoint cursor of every shard of a
// consumer group that has one.
func (s *Server) Checkpoints(project, logstore, group string) map[int]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	cg := s.logstoreLocked(project, logstore).groups[group]
	out := map[int]string{}
	if cg != nil {
		for sh, c := range cg.ckpt {
			out[sh] = c.cursor
		}
	}
	return out
}

// CursorOffset tells which LogGroup of its shard a cursor points at
// (0 = the first; the shard's group count = its end), for assertions.
func CursorOffset(shardID int, cursor string) (int, bool) {
	return decodeCursor(shardID, cursor)
}

func encodeCursor(shardID, pos int) string {
	return base64.StdEncoding.EncodeToString([]byte(strconv.FormatInt(cursorValue(shardID, pos), 10)))
}

func cursorValue(shardID, pos int) int64 {
	return cursorBase + int64(shardID)*cursorStep + int64(pos)
}

func decodeCursor(shardID int, c string) (int, bool) {
	b, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, false
	}
	pos := v - cursorValue(shardID, 0)
	if pos < 0 || pos >= cursorStep {
		return 0, false
	}
	return int(pos), true
}

var validGroupName = func(n string) bool {
	if len(n) < 2 || len(n) > 128 {
		return false
	}
	for _, r := range n {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

// handleRead serves the shard, cursor, PullLogs and consumer-group APIs.
// ok is false when the request is none of them (PutLogs or unknown).
func (s *Server) handleRead(r *http.Request, body []byte, project string, logstores []string) (res *response, ae *apiError, ok bool) {
	rest, isLS := strings.CutPrefix(r.URL.Path, "/logstores/")
	if !isLS {
		return nil, nil, false
	}
	parts := strings.Split(rest, "/")
	q := r.URL.Query()
	var kind string
	switch {
	case len(parts) == 2 && parts[1] == "shards" && r.Method == http.MethodGet:
		kind = "ListShards"
	case len(parts) == 3 && parts[1] == "shards" && parts[2] != "route" && r.Method == http.MethodGet:
		kind = "shard:" + q.Get("type")
	case len(parts) == 2 && parts[1] == "consumergroups" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		kind = r.Method + " consumergroups"
	case len(parts) == 3 && parts[1] == "consumergroups":
		kind = r.Method + " consumergroup"
		if r.Method == http.MethodPost {
			kind += ":" + q.Get("type")
		}
	default:
		return nil, nil, false
	}
	// The SDK sends x-log-bodyrawsize: 0 on all of these (JSON bodies are
	// not compressed), and Content-Type with every body.
	if r.Header.Get("x-log-bodyrawsize") == "" {
		return nil, fail(http.StatusBadRequest, "MissingBodyRawSize", "x-log-bodyrawsize is missing"), true
	}
	if len(body) > 0 && r.Header.Get("Content-Type") != "application/json" {
		return nil, fail(http.StatusBadRequest, "InvalidContentType", "Content-Type %q is not application/json", r.Header.Get("Content-Type")), true
	}
	if ae := s.authenticate(r, body); ae != nil {
		return nil, ae, true
	}
	logstore := parts[0]
	if !slices.Contains(logstores, logstore) {
		return nil, fail(http.StatusNotFound, "LogStoreNotExist", "logstore %s does not exist", logstore), true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.logstoreLocked(project, logstore)
	if kind == "ListShards" {
		type shardOut struct {
			ShardID           int    `json:"shardID"`
			Status            string `json:"status"`
			InclusiveBeginKey string `json:"inclusiveBeginKey"`
			ExclusiveEndKey   string `json:"exclusiveEndKey"`
			CreateTime        int64  `json:"createTime"`
		}
		out := make([]shardOut, len(st.shards))
		for i, sh := range st.shards {
			end := sh.end
			if len(end) > 32 {
				end = "ffffffffffffffffffffffffffffffff"
			}
			out[i] = shardOut{sh.id, "readwrite", sh.begin, end, sh.created.Unix()}
		}
		return &response{json: out}, nil, true
	}
	if strings.HasPrefix(kind, "shard:") {
		id, err := strconv.Atoi(parts[2])
		if err != nil || id < 0 || id >= len(st.shards) {
			return nil, fail(http.StatusNotFound, "ShardNotExist", "shard %s does not exist", parts[2]), true
		}
		res, ae := s.shardOp(st.shards[id], kind[len("shard:"):], q, r.Header)
		return res, ae, true
	}
	if kind == "GET consumergroups" {
		type cgOut struct {
			Name    string `json:"name"`
			Timeout int    `json:"timeout"`
			Order   bool   `json:"order"`
		}
		out := []cgOut{}
		for n, cg := range st.groups {
			out = append(out, cgOut{n, cg.timeout, cg.inOrder})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return &response{json: out}, nil, true
	}
	if kind == "POST consumergroups" {
		var in struct {
			Name    string `json:"consumerGroup"`
			Timeout *int   `json:"timeout"`
			Order   bool   `json:"order"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, fail(http.StatusBadRequest, "PostBodyInvalid", "consumer group body does not decode: %v", err), true
		}
		if !validGroupName(in.Name) {
			return nil, fail(http.StatusBadRequest, "ParameterInvalid", "consumer group name %q is invalid", in.Name), true
		}
		if in.Timeout == nil || *in.Timeout < 1 || *in.Timeout > 86400 {
			return nil, fail(http.StatusBadRequest, "ParameterInvalid", "timeout must be between 1 and 86400 seconds"), true
		}
		if _, ok := st.groups[in.Name]; ok {
			return nil, fail(http.StatusBadRequest, "ConsumerGroupAlreadyExist", "consumer group %s already exists", in.Name), true
		}
		st.groups[in.Name] = &consumerGroup{timeout: *in.Timeout, inOrder: in.Order,
			consumers: map[string]*consumerState{}, owner: map[int]string{}, releasing: map[int]release{}, ckpt: map[int]checkpoint{}}
		return &response{}, nil, true
	}
	name := parts[2]
	cg, exists := st.groups[name]
	if !exists {
		return nil, fail(http.StatusNotFound, "ConsumerGroupNotExist", "consumer group %s does not exist", name), true
	}
	switch kind {
	case "GET consumergroup":
		type ckOut struct {
			Shard      int    `json:"shard"`
			Checkpoint string `json:"checkpoint"`
			UpdateTime int64  `json:"updateTime"`
			Consumer   string `json:"consumer"`
		}
		out := []ckOut{}
		for sh, c := range cg.ckpt {
			out = append(out, ckOut{sh, c.cursor, c.updated.UnixMicro(), c.consumer})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Shard < out[j].Shard })
		return &response{json: out}, nil, true
	case "PUT consumergroup":
		var in struct {
			Timeout *int  `json:"timeout"`
			Order   *bool `json:"order"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, fail(http.StatusBadRequest, "PostBodyInvalid", "consumer group body does not decode: %v", err), true
		}
		if in.Timeout != nil {
			if *in.Timeout < 1 || *in.Timeout > 86400 {
				return nil, fail(http.StatusBadRequest, "ParameterInvalid", "timeout must be between 1 and 86400 seconds"), true
			}
			cg.timeout = *in.Timeout
		}
		if in.Order != nil {
			cg.inOrder = *in.Order
		}
		return &response{}, nil, true
	case "DELETE consumergroup":
		delete(st.groups, name)
		return &response{}, nil, true
	case "POST consumergroup:heartbeat":
		consumer := q.Get("consumer")
		if consumer == "" {
			return nil, fail(http.StatusBadRequest, "ParameterInvalid", "consumer is missing"), true
		}
		var held []int
		if err := json.Unmarshal(body, &held); err != nil {
			return nil, fail(http.StatusBadRequest, "PostBodyInvalid", "heartbeat body is not a JSON array of shard ids: %v", err), true
		}
		return &response{json: s.heartbeat(st, cg, consumer, held)}, nil, true
	case "POST consumergroup:checkpoint":
		consumer := q.Get("consumer")
		force := q.Get("forceSuccess") == "true"
		var in struct {
			Shard      *int    `json:"shard"`
			Checkpoint *string `json:"checkpoint"`
		}
		if err := json.Unmarshal(body, &in); err != nil || in.Shard == nil || in.Checkpoint == nil {
			return nil, fail(http.StatusBadRequest, "PostBodyInvalid", "checkpoint body needs shard and checkpoint"), true
		}
		if *in.Shard < 0 || *in.Shard >= len(st.shards) {
			return nil, fail(http.StatusNotFound, "ShardNotExist", "shard %d does not exist", *in.Shard), true
		}
		if pos, ok := decodeCursor(*in.Shard, *in.Checkpoint); !ok || pos > len(st.shards[*in.Shard].groups) {
			return nil, fail(http.StatusBadRequest, "InvalidCursor", "checkpoint %q is not a cursor of shard %d", *in.Checkpoint, *in.Shard), true
		}
		if _, known := cg.consumers[consumer]; !known && !force {
			return nil, fail(http.StatusBadRequest, "ConsumerNotExsit", "consumer %s does not exist", consumer), true
		}
		if cg.owner[*in.Shard] != consumer && !force {
			return nil, fail(http.StatusBadRequest, "ConsumerNotMatch", "shard %d is not held by consumer %s", *in.Shard, consumer), true
		}
		cg.ckpt[*in.Shard] = checkpoint{*in.Checkpoint, s.opts.Now(), consumer}
		return &response{}, nil, true
	}
	return nil, fail(http.StatusBadRequest, "ParameterInvalid", "unsupported consumer group request %s %s?%s", r.Method, r.URL.Path, r.URL.RawQuery), true
}

// heartbeat records that consumer is alive and holds the shards it
// reports, drops consumers silent for longer than the group's timeout, and
// rebalances: every shard goes to one live consumer, no consumer holds more
// than ceil(shards/consumers), and a shard taken from a live consumer is
// given to another only once the former owner stops reporting it (so two
// consumers never read one shard at once). It returns consumer's shards.
func (s *Server) heartbeat(st *logstoreState, cg *consumerGroup, consumer string, held []int) []int {
	now := s.opts.Now()
	c := cg.consumers[consumer]
	if c == nil {
		c = &consumerState{}
		cg.consumers[consumer] = c
	}
	c.last = now
	c.beats++
	c.reported = map[int]bool{}
	for _, sh := range held {
		c.reported[sh] = true
	}
	timeout := time.Duration(cg.timeout) * time.Second
	for n, cs := range cg.consumers {
		if now.Sub(cs.last) > timeout {
			delete(cg.consumers, n)
		}
	}
	for sh, o := range cg.owner {
		if cg.consumers[o] == nil {
			delete(cg.owner, sh)
		}
	}
	for sh, rel := range cg.releasing {
		// Released once the former owner is gone, or has reported without
		// the shard after it was taken.
		if cs := cg.consumers[rel.from]; cs == nil || cs.beats > rel.beats && !cs.reported[sh] {
			delete(cg.releasing, sh)
		}
	}
	names := make([]string, 0, len(cg.consumers))
	for n := range cg.consumers {
		names = append(names, n)
	}
	sort.Strings(names)
	count := map[string][]int{}
	for sh, o := range cg.owner {
		count[o] = append(count[o], sh)
	}
	quota := (len(st.shards) + len(names) - 1) / len(names)
	for _, n := range names {
		owned := count[n]
		sort.Ints(owned)
		for len(owned) > quota {
			sh := owned[len(owned)-1]
			owned = owned[:len(owned)-1]
			delete(cg.owner, sh)
			cg.releasing[sh] = release{n, cg.consumers[n].beats}
		}
		count[n] = owned
	}
	for _, sh := range st.shards {
		if _, taken := cg.owner[sh.id]; taken {
			continue
		}
		if _, busy := cg.releasing[sh.id]; busy {
			continue
		}
		best := ""
		for _, n := range names {
			if best == "" || len(count[n]) < len(count[best]) {
				best = n
			}
		}
		cg.owner[sh.id] = best
		count[best] = append(count[best], sh.id)
	}
	out := slices.Clone(count[consumer])
	sort.Ints(out)
	if out == nil {
		out = []int{}
	}
	return out
}

// shardOp serves GetCursor, GetCursorTime and PullLogs on one shard.
func (s *Server) shardOp(sh *shard, typ string, q url.Values, h http.Header) (*response, *apiError) {
	switch typ {
	case "cursor":
		from := q.Get("from")
		pos := 0
		switch from {
		case "begin":
		case "end":
			pos = len(sh.groups)
		default:
			sec, err := strconv.ParseInt(from, 10, 64)
			if err != nil || sec < 0 {
				return nil, fail(http.StatusBadRequest, "ParameterInvalid", "from %q is not begin, end or a unix time in seconds", from)
			}
			pos = sort.Search(len(sh.groups), func(i int) bool { return sh.groups[i].received.Unix() >= sec })
		}
		return &response{json: map[string]string{"cursor": encodeCursor(sh.id, pos)}}, nil
	case "cursor_time":
		pos, ok := decodeCursor(sh.id, q.Get("cursor"))
		if !ok || pos > len(sh.groups) {
			return nil, fail(http.StatusBadRequest, "InvalidCursor", "cursor %q is not a cursor of shard %d", q.Get("cursor"), sh.id)
		}
		t := s.opts.Now()
		if pos < len(sh.groups) {
			t = sh.groups[pos].received
		}
		return &response{json: map[string]int64{"cursor_time": t.Unix()}}, nil
	case "logs":
	default:
		return nil, fail(http.StatusBadRequest, "ParameterInvalid", "type %q is not cursor, cursor_time or logs", typ)
	}
	pos, ok := decodeCursor(sh.id, q.Get("cursor"))
	if !ok || pos > len(sh.groups) {
		return nil, fail(http.StatusBadRequest, "InvalidCursor", "cursor %q is not a cursor of shard %d", q.Get("cursor"), sh.id)
	}
	count, err := strconv.Atoi(q.Get("count"))
	if err != nil || count < 1 || count > MaxPullCount {
		return nil, fail(http.StatusBadRequest, "ParameterInvalid", "count %q must be between 1 and %d", q.Get("count"), MaxPullCount)
	}
	end := len(sh.groups)
	if ec := q.Get("end_cursor"); ec != "" {
		e, ok := decodeCursor(sh.id, ec)
		if !ok || e > len(sh.groups) {
			return nil, fail(http.StatusBadRequest, "InvalidCursor", "end_cursor %q is not a cursor of shard %d", ec, sh.id)
		}
		end = max(min(e, end), pos)
	}
	if q.Get("query") != "" || q.Get("processor") != "" {
		return nil, fail(http.StatusBadRequest, "ParameterInvalid", "slstest does not run SPL queries or processors")
	}
	if enc := h.Get("Accept-Encoding"); enc != "lz4" {
		return nil, fail(http.StatusBadRequest, "InvalidCompressType", "Accept-Encoding %q is not supported (lz4)", enc)
	}
	next := min(pos+count, end)
	var raw []byte
	for _, g := range sh.groups[pos:next] {
		raw = append(raw, 0x0a) // LogGroupList.logGroupList, field 1, bytes
		raw = appendUvarint(raw, uint64(len(g.raw)))
		raw = append(raw, g.raw...)
	}
	hdr := map[string]string{
		"x-log-cursor":       encodeCursor(sh.id, next),
		"x-log-count":        strconv.Itoa(next - pos),
		"x-log-bodyrawsize":  strconv.Itoa(len(raw)),
		"x-log-compresstype": "lz4",
		"Content-Type":       "application/x-protobuf",
	}
	if next > pos {
		hdr["x-log-read-last-cursor"] = strconv.FormatInt(cursorValue(sh.id, next-1), 10)
	}
	return &response{header: hdr, body: compressLZ4(raw)}, nil
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// compressLZ4 makes an LZ4 block; incompressible input becomes one
// literal-only sequence, as the format allows.
func compressLZ4(src []byte) []byte {
	if len(src) == 0 {
		return nil
	}
	dst := make([]byte, lz4.CompressBlockBound(len(src)))
	n, err := lz4.CompressBlock(src, dst, nil)
	if err == nil && n > 0 {
		return dst[:n]
	}
	out := make([]byte, 0, len(src)+len(src)/255+16)
	l := len(src)
	if l < 15 {
		out = append(out, byte(l<<4))
	} else {
		out = append(out, 0xf0)
		for l -= 15; l >= 255; l -= 255 {
			out = append(out, 255)
		}
		out = append(out, byte(l))
	}
	return append(out, src...)
}
