package main

import (
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// The systemd notification protocol (sd_notify(3)), for a unit of
// Type=notify: the daemon says READY=1 once it serves, RELOADING=1 and
// READY=1 around a reload, STOPPING=1 at shutdown, and WATCHDOG=1 at half
// the unit's WatchdogSec while its main loop and database answer. Outside
// systemd, NOTIFY_SOCKET is unset and all of this does nothing.

// notify sends state to the service manager, if there is one. Failing to
// notify is logged at debug level only: the daemon works without it.
func (d *daemon) notify(state string) {
	if d.e.getenv == nil {
		return
	}
	sock := d.e.getenv("NOTIFY_SOCKET")
	if sock == "" {
		return
	}
	if sock[0] == '@' {
		sock = "\x00" + sock[1:] // an abstract socket
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		d.log.Debug("sd_notify", "err", err)
		return
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		d.log.Debug("sd_notify", "err", err)
	}
}

// watchdogTicker ticks at half the watchdog interval systemd asked for, or
// never.
func (d *daemon) watchdogTicker() *time.Ticker {
	if d.e.getenv != nil {
		usec, err := strconv.ParseInt(d.e.getenv("WATCHDOG_USEC"), 10, 64)
		pid := d.e.getenv("WATCHDOG_PID")
		if err == nil && usec > 0 && (pid == "" || pid == strconv.Itoa(os.Getpid())) {
			return time.NewTicker(time.Duration(usec) * time.Microsecond / 2)
		}
	}
	t := time.NewTicker(time.Hour)
	t.Stop() // a stopped ticker never fires
	return t
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, which RELOADING=1
// carries.
func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1e3
}
