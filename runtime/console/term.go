package console

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// OpenPty allocates a pseudo-terminal from the host's /dev/ptmx: for a process that needs a
// terminal of its own (a test, `exec -it` under a monitor that opens the pty itself). A
// container's own pty comes from its devpts, through the console socket.
func OpenPty() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	name := "/dev/pts/" + strconv.FormatUint(uint64(n), 10)
	s, err := os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("open %s: %w", name, err)
	}
	return m, s, nil
}

// IsTerminal reports whether fd is a terminal.
func IsTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// MakeRaw puts the terminal fd in raw mode and returns its previous settings for Restore.
func MakeRaw(fd int) (*unix.Termios, error) {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("terminal settings: %w", err)
	}
	saved := *t
	Raw(t)
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return nil, fmt.Errorf("set the terminal to raw mode: %w", err)
	}
	return &saved, nil
}

// Restore puts back the settings MakeRaw returned.
func Restore(fd int, saved *unix.Termios) error {
	if saved == nil {
		return nil
	}
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, saved); err != nil {
		return fmt.Errorf("restore terminal settings: %w", err)
	}
	return nil
}

// Raw turns off input and output processing, echo and signal keys in t, as cfmakeraw(3) does:
// the container's pty does all of that.
func Raw(t *unix.Termios) {
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
}

// Size returns the window size of the terminal fd.
func Size(fd int) (*unix.Winsize, error) {
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil {
		return nil, fmt.Errorf("window size: %w", err)
	}
	return ws, nil
}

// SetSize sets the window size of a pty (either end); the kernel sends SIGWINCH to the
// foreground process group of its terminal when the size changes.
func SetSize(fd int, rows, cols uint16) error {
	ws := &unix.Winsize{Row: rows, Col: cols}
	if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, ws); err != nil {
		return fmt.Errorf("set window size: %w", err)
	}
	return nil
}

// CopySize gives the terminal dst the window size of the terminal src.
func CopySize(dst, src int) error {
	ws, err := Size(src)
	if err != nil {
		return err
	}
	if err := unix.IoctlSetWinsize(dst, unix.TIOCSWINSZ, ws); err != nil {
		return fmt.Errorf("set window size: %w", err)
	}
	return nil
}

// WatchSize copies src's window size to dst now and on every SIGWINCH until stop is called. A
// caller that already receives SIGWINCH for other reasons calls CopySize itself instead.
func WatchSize(dst, src int) (stop func()) {
	_ = CopySize(dst, src)
	ch := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(ch, unix.SIGWINCH)
	go func() {
		for {
			select {
			case <-ch:
				_ = CopySize(dst, src)
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
		})
	}
}
