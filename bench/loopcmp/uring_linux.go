// Backend uring drives every connection from one io_uring on a locked OS
// thread. Sockets are connected with a non-blocking connect(2); then each
// connection has one multishot IORING_OP_RECV armed, which takes buffers
// from a provided-buffer ring shared by all connections (uringBufs
// buffers of uringBufSize bytes), and one IORING_OP_SEND (MSG_NOSIGNAL) of
// the shared request bytes per request. Each turn of the loop is one
// io_uring_enter that submits every SQE prepared since the last turn and
// waits for at least one CQE; the turn then drains all ready CQEs: it
// counts received bytes and returns their buffers to the ring, sends the
// next request when a response is complete, sends the rest of a short
// send, and re-arms a receive whose CQE comes without IORING_CQE_F_MORE
// (-ENOBUFS when the buffer ring ran dry). A goroutine writes an eventfd
// when ctx ends; a read of that eventfd is an SQE on the ring, so its
// completion stops the loop.
//
// The ring is set up with IORING_SETUP_SINGLE_ISSUER|DEFER_TASKRUN;
// LOOPCMP_URING_SETUP=coop (SINGLE_ISSUER|COOP_TASKRUN) or none (no flags)
// selects the others for comparison.
//
// The system calls are made here with golang.org/x/sys/unix, not with
// github.com/pawelgaczynski/giouring: that library reaches syscall.mmap
// and syscall.munmap through go:linkname, which Go 1.23 and later refuse
// to link ("invalid reference to syscall.munmap") unless every build
// passes -ldflags=-checklinkname=0.
package main

import (
	"context"
	"fmt"
	"math/bits"
	"os"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

func init() { backends["uring"] = runUring }

const (
	// uringBufs is the number of buffers in the provided-buffer ring (a
	// power of 2), uringBufSize the bytes of each.
	uringBufs    = 512
	uringBufSize = 4096
	// uringGroup is the buffer group id of that ring.
	uringGroup = 0
)

// A CQE's user data is its kind in the top byte and a connection index in
// the low 32 bits.
const (
	opSend uint64 = iota + 1
	opRecv
	opStop
	opShift = 56
)

// The kernel's ABI (include/uapi/linux/io_uring.h) as far as it is used.
const (
	setupCoopTaskrun   = 1 << 8
	setupSingleIssuer  = 1 << 12
	setupDeferTaskrun  = 1 << 13
	featSingleMmap     = 1 << 0
	offSQRing          = 0
	offCQRing          = 0x8000000
	offSQEs            = 0x10000000
	enterGetEvents     = 1 << 0
	enterRegisteredRng = 1 << 4
	opcodeRead         = 22
	opcodeSend         = 26
	opcodeRecv         = 27
	sqeBufferSelect    = 1 << 5
	recvMultishot      = 1 << 1 // in sqe.ioprio
	cqeFBuffer         = 1 << 0
	cqeFMore           = 1 << 1
	cqeBufferShift     = 16
	registerRingFDs    = 20
	unregisterRingFDs  = 21
	registerPbufRing   = 22
	unregisterPbufRing = 23
)

// uringParams is struct io_uring_params (120 bytes).
type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  uringRingOffsets
	cqOff                                                                  uringRingOffsets
}

// uringRingOffsets is struct io_sqring_offsets (head, tail, ring_mask,
// ring_entries, flags, dropped, array) and struct io_cqring_offsets (head,
// tail, ring_mask, ring_entries, overflow, cqes, flags), byte offsets into
// the ring mapping; 40 bytes.
type uringRingOffsets struct {
	head, tail, ringMask, ringEntries, f4, f5, f6, resv1 uint32
	userAddr                                             uint64
}

// The sizes the kernel expects.
var (
	_ [120]byte = [unsafe.Sizeof(uringParams{})]byte{}
	_ [64]byte  = [unsafe.Sizeof(uringSQE{})]byte{}
	_ [16]byte  = [unsafe.Sizeof(uringCQE{})]byte{}
	_ [40]byte  = [unsafe.Sizeof(uringBufReg{})]byte{}
	_ [16]byte  = [unsafe.Sizeof(uringBuf{})]byte{}
	_ [16]byte  = [unsafe.Sizeof(uringRsrcUpdate{})]byte{}
)

// uringSQE is struct io_uring_sqe (64 bytes).
type uringSQE struct {
	opcode, flags uint8
	ioprio        uint16
	fd            int32
	off, addr     uint64
	len, opFlags  uint32
	userData      uint64
	bufGroup      uint16
	personality   uint16
	spliceFdIn    int32
	addr3, pad    uint64
}

// uringCQE is struct io_uring_cqe (16 bytes).
type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

// uringBufReg is struct io_uring_buf_reg (40 bytes).
type uringBufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid, flags uint16
	resv        [3]uint64
}

// uringBuf is struct io_uring_buf (16 bytes); the ring's tail is the resv
// field of its first entry.
type uringBuf struct {
	addr uint64
	len  uint32
	bid  uint16
	resv uint16
}

// uringRsrcUpdate is struct io_uring_rsrc_update (16 bytes).
type uringRsrcUpdate struct {
	offset, resv uint32
	data         uint64
}

// uring is one io_uring: its fd, its mappings and the pointers into them.
type uring struct {
	fd, enterFd  int
	enterFlags   uintptr
	ringMem      []byte // the SQ and CQ rings, one mapping
	sqeMem       []byte
	sqHead       *uint32
	sqTail       *uint32
	sqMask       uint32
	sqEntries    uint32
	sqes         []uringSQE
	tail         uint32 // the SQ tail prepared, published by enter
	cqHead       *uint32
	cqTail       *uint32
	cqMask       uint32
	cqes         []uringCQE
	bufRingMem   []byte
	bufRing      []uringBuf
	bufMem       []byte // the buffers, buffer bid at bid*uringBufSize
	bufTail      uint16 // the buffer ring's tail as prepared
	bufPublished uint16
}

func newUring(entries, flags uint32) (*uring, error) {
	var p uringParams
	p.flags = flags
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("io_uring_setup(%d, %#x): %w", entries, flags, errno)
	}
	r := &uring{fd: int(fd), enterFd: int(fd)}
	if p.features&featSingleMmap == 0 {
		r.close()
		return nil, fmt.Errorf("io_uring: no IORING_FEAT_SINGLE_MMAP (features %#x)", p.features)
	}
	sqArray, cqCQEs := p.sqOff.f6, p.cqOff.f5 // io_sqring_offsets.array, io_cqring_offsets.cqes
	size := max(sqArray+p.sqEntries*4, cqCQEs+p.cqEntries*uint32(unsafe.Sizeof(uringCQE{})))
	var err error
	if r.ringMem, err = unix.Mmap(r.fd, offSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		r.close()
		return nil, fmt.Errorf("mmap io_uring rings: %w", err)
	}
	if r.sqeMem, err = unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(uringSQE{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		r.close()
		return nil, fmt.Errorf("mmap io_uring SQEs: %w", err)
	}
	u32 := func(off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&r.ringMem[off])) }
	r.sqHead, r.sqTail = u32(p.sqOff.head), u32(p.sqOff.tail)
	r.sqMask, r.sqEntries = *u32(p.sqOff.ringMask), *u32(p.sqOff.ringEntries)
	r.sqes = unsafe.Slice((*uringSQE)(unsafe.Pointer(&r.sqeMem[0])), p.sqEntries)
	// SQE i is always in slot i of the array, which indexes SQEs.
	array := unsafe.Slice(u32(sqArray), p.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.cqHead, r.cqTail = u32(p.cqOff.head), u32(p.cqOff.tail)
	r.cqMask = *u32(p.cqOff.ringMask)
	r.cqes = unsafe.Slice((*uringCQE)(unsafe.Pointer(&r.ringMem[cqCQEs])), p.cqEntries)
	r.tail = *r.sqTail
	// A registered ring fd spares io_uring_enter its fd lookup.
	upd := uringRsrcUpdate{offset: ^uint32(0), data: uint64(r.fd)}
	if n, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, fd, registerRingFDs, uintptr(unsafe.Pointer(&upd)), 1, 0, 0); errno == 0 && n == 1 {
		r.enterFd, r.enterFlags = int(upd.offset), enterRegisteredRng
	}
	return r, nil
}

// setupBufRing registers a provided-buffer ring of n buffers of size bytes
// each (n a power of 2) as group uringGroup, all of them in it.
func (r *uring) setupBufRing(n, size int) error {
	var err error
	if r.bufRingMem, err = unix.Mmap(-1, 0, n*int(unsafe.Sizeof(uringBuf{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE); err != nil {
		return err
	}
	r.bufRing = unsafe.Slice((*uringBuf)(unsafe.Pointer(&r.bufRingMem[0])), n)
	// The buffers live outside the Go heap: the kernel writes them
	// while a receive is armed.
	if r.bufMem, err = unix.Mmap(-1, 0, n*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE); err != nil {
		return err
	}
	reg := uringBufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&r.bufRing[0]))), ringEntries: uint32(n), bgid: uringGroup}
	if _, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), registerPbufRing, uintptr(unsafe.Pointer(&reg)), 1, 0, 0); errno != 0 {
		r.bufRing = nil
		return fmt.Errorf("io_uring_register(IORING_REGISTER_PBUF_RING): %w", errno)
	}
	for bid := range n {
		r.putBuf(uint16(bid), uintptr(unsafe.Pointer(&r.bufMem[bid*size])), size)
	}
	r.publishBufs()
	return nil
}

// putBuf adds buffer bid of size bytes at addr to the buffer ring; the
// kernel sees it after publishBufs.
func (r *uring) putBuf(bid uint16, addr uintptr, size int) {
	b := &r.bufRing[int(r.bufTail)&(len(r.bufRing)-1)]
	b.addr, b.len, b.bid = uint64(addr), uint32(size), bid
	r.bufTail++
}

// publishBufs stores the buffer ring's tail (a uint16 at byte 14) with
// release order: Go has no 16-bit atomic store, so it stores the 32 bits
// of the first entry's bid and the tail, the bid being written by this
// thread alone.
func (r *uring) publishBufs() {
	if r.bufTail == r.bufPublished {
		return
	}
	first := &r.bufRing[0]
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&first.bid)), uint32(r.bufTail)<<16|uint32(first.bid))
	r.bufPublished = r.bufTail
}

// sqe returns a zeroed SQE, submitting the SQ first when it is full.
func (r *uring) sqe() (*uringSQE, error) {
	for r.tail-atomic.LoadUint32(r.sqHead) >= r.sqEntries {
		if err := r.enter(0); err != nil {
			return nil, err
		}
	}
	e := &r.sqes[r.tail&r.sqMask]
	*e = uringSQE{}
	r.tail++
	return e, nil
}

// enter publishes the SQEs prepared and submits them, waiting for at least
// wait CQEs (getting events whenever wait > 0). EINTR is not an error: the
// caller drains the CQEs there are and enters again.
func (r *uring) enter(wait uint32) error {
	atomic.StoreUint32(r.sqTail, r.tail)
	submit := r.tail - atomic.LoadUint32(r.sqHead)
	flags := r.enterFlags
	if wait > 0 {
		flags |= enterGetEvents
	}
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.enterFd), uintptr(submit), uintptr(wait), flags, 0, 0)
	switch errno {
	case 0, unix.EINTR:
		return nil
	}
	return fmt.Errorf("io_uring_enter: %w", errno)
}

// close unregisters the buffer ring (so that the kernel writes no buffer
// any more) and the ring fd (a reference to the ring the thread holds),
// closes the ring, which cancels every request, and unmaps its memory.
func (r *uring) close() {
	if r.bufRing != nil {
		reg := uringBufReg{bgid: uringGroup}
		_, _, _ = unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), unregisterPbufRing, uintptr(unsafe.Pointer(&reg)), 1, 0, 0)
	}
	if r.enterFd != r.fd {
		upd := uringRsrcUpdate{offset: uint32(r.enterFd)}
		_, _, _ = unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), unregisterRingFDs, uintptr(unsafe.Pointer(&upd)), 1, 0, 0)
	}
	unix.Close(r.fd)
	for _, m := range [][]byte{r.ringMem, r.sqeMem, r.bufRingMem, r.bufMem} {
		if m != nil {
			unix.Munmap(m)
		}
	}
}

// uringSetup returns the setup flags LOOPCMP_URING_SETUP names.
func uringSetup() (uint32, error) {
	switch v := os.Getenv("LOOPCMP_URING_SETUP"); v {
	case "", "defer":
		return setupSingleIssuer | setupDeferTaskrun, nil
	case "coop":
		return setupSingleIssuer | setupCoopTaskrun, nil
	case "none":
		return 0, nil
	default:
		return 0, fmt.Errorf("LOOPCMP_URING_SETUP=%q: want defer, coop or none", v)
	}
}

func runUring(ctx context.Context, addr string, conns int, req []byte, respLen int) (int64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	sa, err := sockaddr(addr)
	if err != nil {
		return 0, err
	}
	flags, err := uringSetup()
	if err != nil {
		return 0, err
	}
	// Every connection has at most one send and one receive in flight, so
	// a SQ of conns+16 entries or more (the CQ has twice as many) never
	// fills up between two turns; beyond 16384 the kernel keeps CQEs that
	// overflow (IORING_FEAT_NODROP).
	r, err := newUring(min(uint32(1)<<bits.Len32(uint32(conns)+16), 16384), flags)
	if err != nil {
		return 0, err
	}
	fds := make([]int, 0, conns)
	defer func() {
		r.close()
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	if err := r.setupBufRing(uringBufs, uringBufSize); err != nil {
		return 0, err
	}
	base := uintptr(unsafe.Pointer(&r.bufMem[0]))

	stop, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return 0, err
	}
	// The writer is gone before stop is closed, whichever way the loop
	// ends.
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-ctx.Done():
			_, _ = unix.Write(stop, []byte{1, 0, 0, 0, 0, 0, 0, 0})
		case <-quit:
		}
	}()
	defer func() {
		close(quit)
		<-exited
		unix.Close(stop)
	}()
	stopBuf := make([]byte, 8)
	defer runtime.KeepAlive(stopBuf)
	e, err := r.sqe()
	if err != nil {
		return 0, err
	}
	e.opcode, e.fd, e.addr, e.len, e.userData = opcodeRead, int32(stop), uint64(uintptr(unsafe.Pointer(&stopBuf[0]))), 8, opStop<<opShift

	// pending[i] is the bytes of connection i's response still to come,
	// sent[i] the bytes of its request sent.
	pending := make([]int, conns)
	sent := make([]int, conns)
	defer runtime.KeepAlive(req)
	send := func(i int) error {
		e, err := r.sqe()
		if err != nil {
			return err
		}
		rest := req[sent[i]:]
		e.opcode, e.fd, e.addr, e.len = opcodeSend, int32(fds[i]), uint64(uintptr(unsafe.Pointer(&rest[0]))), uint32(len(rest))
		e.opFlags, e.userData = unix.MSG_NOSIGNAL, opSend<<opShift|uint64(i)
		return nil
	}
	recv := func(i int) error {
		e, err := r.sqe()
		if err != nil {
			return err
		}
		e.opcode, e.fd, e.ioprio, e.flags, e.bufGroup = opcodeRecv, int32(fds[i]), recvMultishot, sqeBufferSelect, uringGroup
		e.userData = opRecv<<opShift | uint64(i)
		return nil
	}
	for i := range conns {
		fd, err := dialNonblocking(sa)
		if err != nil {
			return 0, err
		}
		fds = append(fds, fd)
		// A send or a receive on a socket still connecting waits (polls)
		// in the kernel until it is connected.
		if err := recv(i); err != nil {
			return 0, err
		}
		pending[i] = respLen
		if err := send(i); err != nil {
			return 0, err
		}
	}

	var done int64
	for {
		r.publishBufs()
		if err := r.enter(1); err != nil {
			return done, err
		}
		head := *r.cqHead
		for tail := atomic.LoadUint32(r.cqTail); head != tail; tail = atomic.LoadUint32(r.cqTail) {
			for ; head != tail; head++ {
				c := &r.cqes[head&r.cqMask]
				i := int(uint32(c.userData))
				switch c.userData >> opShift {
				case opStop:
					return done, nil
				case opSend:
					if c.res < 0 {
						return done, fmt.Errorf("connection %d: send: %w", i, unix.Errno(-c.res))
					}
					sent[i] += int(c.res)
					if sent[i] < len(req) {
						if err := send(i); err != nil {
							return done, err
						}
					}
				case opRecv:
					switch {
					case c.res == -int32(unix.ENOBUFS):
						// The buffer ring ran dry: this receive ended and
						// is re-armed below, once buffers are back.
					case c.res < 0:
						return done, fmt.Errorf("connection %d: recv: %w", i, unix.Errno(-c.res))
					case c.res == 0:
						return done, fmt.Errorf("connection %d closed by the server", i)
					case c.flags&cqeFBuffer == 0:
						return done, fmt.Errorf("connection %d: a receive of %d bytes without a buffer", i, c.res)
					default:
						bid := uint16(c.flags >> cqeBufferShift)
						r.putBuf(bid, base+uintptr(bid)*uringBufSize, uringBufSize)
						left := pending[i] - int(c.res)
						if left < 0 {
							return done, fmt.Errorf("%d bytes more than a response: pipelining is not measured", -left)
						}
						pending[i] = left
						if left == 0 {
							done++
							pending[i], sent[i] = respLen, 0
							if err := send(i); err != nil {
								return done, err
							}
						}
					}
					if c.flags&cqeFMore == 0 {
						if err := recv(i); err != nil {
							return done, err
						}
					}
				default:
					return done, fmt.Errorf("a CQE with user data %#x", c.userData)
				}
			}
			atomic.StoreUint32(r.cqHead, head)
		}
	}
}
