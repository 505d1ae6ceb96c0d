package echo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// envLoad, set in a process's environment, makes LoadMain serve as the load
// generator; its value is the JSON of a loadConfig.
const envLoad = "LAB_ECHO_LOAD"

type loadConfig struct {
	Addr         string        `json:"addr"`
	Connections  int           `json:"connections"`
	Requests     int           `json:"requests"`
	PayloadBytes int           `json:"payload_bytes"`
	Think        time.Duration `json:"think_ns"`
}

// LoadMain serves as the load generator when the process was started as one
// (StartLoad) and exits; otherwise it returns at once. Call it first in
// TestMain of a binary that measures the echo workload.
//
// The generator says "ready", then answers every "go" line on stdin with one
// execution's Stats as a JSON line (or "error <message>"), and exits at EOF.
// "go ADDR" aims that execution, and the ones after it, at ADDR (a cold
// server gets a fresh listening socket for every execution).
func LoadMain() {
	cfg := os.Getenv(envLoad)
	if cfg == "" {
		return
	}
	var c loadConfig
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		fmt.Printf("error %s: %v\n", envLoad, err)
		os.Exit(1)
	}
	j, err := NewJob(c.Connections, c.Requests, c.PayloadBytes, c.Think)
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(1)
	}
	raiseNoFile(j.Connections + 64)
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd, addr, _ := strings.Cut(in.Text(), " ")
		if cmd != "go" {
			fmt.Printf("error unknown command %q\n", in.Text())
			os.Exit(1)
		}
		if addr != "" {
			c.Addr = addr
		}
		st, err := Generate(context.Background(), c.Addr, j)
		if err != nil {
			fmt.Printf("error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
			os.Exit(1)
		}
		b, _ := json.Marshal(st)
		fmt.Println(string(b))
	}
	os.Exit(0)
}

// raiseNoFile raises this process's soft RLIMIT_NOFILE to need, up to the
// hard limit.
func raiseNoFile(need int) {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < uint64(need) {
		l.Cur = min(uint64(need), l.Max)
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// Load is a load generator process, started once per sample and driven one
// execution at a time.
type Load struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	errb  strings.Builder
}

// StartLoad starts bin (a binary whose TestMain calls LoadMain, normally
// this one: os.Executable) as the load generator of j against addr, and
// waits until it is ready.
func StartLoad(bin, addr string, j Job) (*Load, error) {
	cfg, _ := json.Marshal(loadConfig{Addr: addr, Connections: j.Connections, Requests: j.Requests, PayloadBytes: j.PayloadBytes, Think: j.Think})
	l := &Load{cmd: exec.Command(bin)}
	l.cmd.Env = append(os.Environ(), envLoad+"="+string(cfg))
	l.cmd.Stderr = &l.errb
	var err error
	if l.stdin, err = l.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := l.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	l.out = bufio.NewReader(stdout)
	if err := l.cmd.Start(); err != nil {
		return nil, fmt.Errorf("echo: start the load generator: %w", err)
	}
	line, err := l.out.ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		l.Close()
		return nil, fmt.Errorf("echo: the load generator did not get ready: %q %v %s", line, err, l.errb.String())
	}
	return l, nil
}

// Go runs one execution against addr ("" = the address of the last one, or
// StartLoad's) and returns what the generator measured. If the server does
// not answer, the generator waits: the caller closes the Load when its
// deadline passes.
func (l *Load) Go(addr string) (Stats, error) {
	if _, err := io.WriteString(l.stdin, strings.TrimSpace("go "+addr)+"\n"); err != nil {
		return Stats{}, fmt.Errorf("echo: load generator: %w", err)
	}
	line, err := l.out.ReadString('\n')
	if err != nil {
		return Stats{}, fmt.Errorf("echo: load generator: %w: %s", err, l.errb.String())
	}
	if msg, ok := strings.CutPrefix(line, "error "); ok {
		return Stats{}, errors.New(strings.TrimSpace(msg))
	}
	var st Stats
	if err := json.Unmarshal([]byte(line), &st); err != nil {
		return Stats{}, fmt.Errorf("echo: load generator said %q: %w", line, err)
	}
	return st, nil
}

// Close stops the generator and waits for it.
func (l *Load) Close() error {
	l.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- l.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		l.cmd.Process.Kill()
		return <-done
	}
}
