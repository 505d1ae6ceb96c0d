package echo

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Listen makes the listening socket of an execution: TCP on 127.0.0.1, an
// ephemeral port, the kernel's largest backlog (net.core.somaxconn), in
// blocking mode (a model that wants non-blocking sockets sets its own; with
// a fresh process per sample no other model shares it). It returns the
// socket and its address, "127.0.0.1:port". Linux only.
func Listen() (*os.File, string, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, "", fmt.Errorf("echo: socket: %w", err)
	}
	fail := func(what string, err error) (*os.File, string, error) {
		unix.Close(fd)
		return nil, "", fmt.Errorf("echo: %s: %w", what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("SO_REUSEADDR", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return fail("bind 127.0.0.1", err)
	}
	if err := unix.Listen(fd, somaxconn()); err != nil {
		return fail("listen", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	port := sa.(*unix.SockaddrInet4).Port
	return os.NewFile(uintptr(fd), "echo-listener"), "127.0.0.1:" + strconv.Itoa(port), nil
}

// somaxconn is the kernel's cap on a listen backlog (4096 when unknown).
func somaxconn() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		return 4096
	}
	n, err := strconv.Atoi(string(trimNL(b)))
	if err != nil || n < 1 {
		return 4096
	}
	return n
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
