package engine

// timers is an event loop's deadline heap: at most one timer per
// connection (its request or connect deadline, the end of the grace it
// waits for, its backoff or its next open-loop start), kept in a binary
// min-heap of connection ids. A timer moved later, as every request moves
// its connection's deadline, is not sifted: its entry keeps the earlier
// key and is pushed down only when that key comes due, so a request costs
// the heap O(1) and a connection's entry is sifted about once per timeout.
// Times are nanoseconds since the run's start; 0 means no timer. Not safe
// for concurrent use: a loop owns it.
type timers struct {
	heap []int32 // connection ids
	pos  []int32 // pos[id] is id's index in heap, -1 if absent
	key  []int64 // key[id] is id's key in heap: at most due[id] while due[id] != 0
	due  []int64 // due[id] is when id's timer is due; 0: none
}

func newTimers(n int) *timers {
	t := &timers{heap: make([]int32, 0, n), pos: make([]int32, n), key: make([]int64, n), due: make([]int64, n)}
	for i := range t.pos {
		t.pos[i] = -1
	}
	return t
}

// set makes id's timer due at at (> 0), replacing any other of id's.
func (t *timers) set(id int32, at int64) {
	t.due[id] = at
	switch i := t.pos[id]; {
	case i < 0:
		t.key[id] = at
		t.pos[id] = int32(len(t.heap))
		t.heap = append(t.heap, id)
		t.up(len(t.heap) - 1)
	case at < t.key[id]:
		t.key[id] = at
		t.up(int(i))
	}
}

// clear removes id's timer, if any.
func (t *timers) clear(id int32) { t.due[id] = 0 }

// next returns the earliest key: no timer is due before it (one may be
// due later, if its entry is stale). ok is false when there is none.
func (t *timers) next() (at int64, ok bool) {
	if len(t.heap) == 0 {
		return 0, false
	}
	return t.key[t.heap[0]], true
}

// pop removes and returns a timer due at or before now; ok is false when
// there is none.
func (t *timers) pop(now int64) (id int32, ok bool) {
	for len(t.heap) > 0 {
		top := t.heap[0]
		if t.key[top] > now {
			return 0, false
		}
		switch d := t.due[top]; {
		case d == 0:
			t.remove()
		case d > t.key[top]:
			t.key[top] = d
			t.down(0)
		default:
			t.remove()
			t.due[top] = 0
			return top, true
		}
	}
	return 0, false
}

// remove removes the heap's top.
func (t *timers) remove() {
	top := t.heap[0]
	last := len(t.heap) - 1
	t.swap(0, last)
	t.heap = t.heap[:last]
	t.pos[top] = -1
	if last > 0 {
		t.down(0)
	}
}

func (t *timers) less(i, j int) bool { return t.key[t.heap[i]] < t.key[t.heap[j]] }

func (t *timers) swap(i, j int) {
	t.heap[i], t.heap[j] = t.heap[j], t.heap[i]
	t.pos[t.heap[i]] = int32(i)
	t.pos[t.heap[j]] = int32(j)
}

func (t *timers) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !t.less(i, parent) {
			return
		}
		t.swap(i, parent)
		i = parent
	}
}

func (t *timers) down(i int) {
	n := len(t.heap)
	for {
		least := i
		if l := 2*i + 1; l < n && t.less(l, least) {
			least = l
		}
		if r := 2*i + 2; r < n && t.less(r, least) {
			least = r
		}
		if least == i {
			return
		}
		t.swap(i, least)
		i = least
	}
}
