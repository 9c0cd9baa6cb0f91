package main

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

func init() { backends["unix"] = runUnix }

// runUnix is the mechanism of benchd's engine (engine/loop_linux.go): one
// edge-triggered epoll set on a locked OS thread, non-blocking sockets, a
// sendto per request and reads until a short read, one read buffer, an
// eventfd to stop. It polls without blocking first and blocks only when
// nothing is ready, as the engine does; sendto, read and the look without
// blocking are raw system calls (they never block, so the Go scheduler
// need not be told), as in the engine.
func runUnix(ctx context.Context, addr string, conns int, req []byte, respLen int) (int64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	sa, err := sockaddr(addr)
	if err != nil {
		return 0, err
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return 0, err
	}
	defer unix.Close(ep)
	stop, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return 0, err
	}
	defer unix.Close(stop)
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, stop, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(stop)}); err != nil {
		return 0, err
	}
	go func() {
		<-ctx.Done()
		_, _ = unix.Write(stop, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	}()
	// pending[fd] is the bytes of the current response still to come; 0
	// while connecting.
	var pending []int
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for range conns {
		fd, err := dialNonblocking(sa)
		if err != nil {
			return 0, err
		}
		fds = append(fds, fd)
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd)}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return 0, err
		}
		for len(pending) <= fd {
			pending = append(pending, 0)
		}
	}
	send := func(fd int) error {
		if _, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(req))), uintptr(len(req)), unix.MSG_NOSIGNAL, 0, 0); errno != 0 {
			return errno
		}
		pending[fd] = respLen
		return nil
	}
	buf := make([]byte, 16<<10)
	events := make([]unix.EpollEvent, 256)
	var done int64
	for {
		var err error
		r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(unsafe.SliceData(events))), uintptr(len(events)), 0, 0, 0)
		n := int(r)
		if errno != 0 {
			n, err = 0, errno
		}
		if err == nil && n == 0 {
			n, err = unix.EpollWait(ep, events, -1)
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			if fd == stop {
				return done, nil
			}
			if ev.Events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
				errno, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
				if err == nil && errno != 0 {
					err = unix.Errno(errno)
				} else if err == nil {
					err = fmt.Errorf("closed by the server")
				}
				return done, fmt.Errorf("connection %d: %w", fd, err)
			}
			if pending[fd] == 0 {
				if ev.Events&unix.EPOLLOUT != 0 {
					if err := send(fd); err != nil {
						return done, err
					}
				}
				continue
			}
			if ev.Events&unix.EPOLLIN == 0 {
				continue
			}
			for {
				rr, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(buf))), uintptr(len(buf)))
				if errno == unix.EAGAIN {
					break
				}
				if errno != 0 {
					return done, errno
				}
				r := int(rr)
				if r == 0 {
					return done, fmt.Errorf("connection %d closed by the server", fd)
				}
				left := pending[fd] - r
				if left < 0 {
					return done, fmt.Errorf("%d bytes more than a response: pipelining is not measured", -left)
				}
				pending[fd] = left
				if left == 0 {
					done++
					if err := send(fd); err != nil {
						return done, err
					}
				}
				if r < len(buf) {
					break
				}
			}
		}
	}
}

// dialNonblocking opens a non-blocking TCP socket with TCP_NODELAY and
// starts its connect to sa; the connect completes later (EINPROGRESS). On
// an error no socket is left open.
func dialNonblocking(sa *unix.SockaddrInet4) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if err := unix.Connect(fd, sa); err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// sockaddr resolves host:port to an IPv4 socket address.
func sockaddr(addr string) (*unix.SockaddrInet4, error) {
	ta, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return nil, err
	}
	sa := &unix.SockaddrInet4{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To4())
	return sa, nil
}
