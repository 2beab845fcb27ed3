package journal

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// killChildDir, when set, makes TestKillChild append records at killRate
// per second to a journal there, printing each appended sequence number,
// until it is killed.
const killChildDir = "WSMON_JOURNAL_KILL_CHILD"

const killRate = 5000

func TestKillChild(t *testing.T) {
	dir := os.Getenv(killChildDir)
	if dir == "" {
		t.Skip("run by TestKillNineLosesOnlyTheFlushWindow")
	}
	j, err := Open(dir, 1, Options{Logger: discard()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	data := []byte(`{"user":"alice","text":"a message of about a hundred bytes, as chat messages are, more or less"}`)
	if os.Getenv(killChildDir+"_DISK") != "" {
		// A database writing and fsyncing beside the journal, as SQLite does.
		go func() {
			f, _ := os.Create(dir + "/busy")
			b := make([]byte, 4<<20)
			for {
				f.WriteAt(b, 0)
				f.Sync()
			}
		}()
	}
	start := time.Now()
	for n := 0; ; {
		for target := int(time.Since(start).Seconds() * killRate); n < target; n++ {
			seq, err := j.Append(Record{Kind: KindFrame, Target: "t", At: time.Now(), Data: data})
			if err != nil {
				os.Exit(3)
			}
			out.WriteString(strconv.FormatUint(seq, 10) + "\n")
			out.Flush() // the pipe keeps what was written before the kill
		}
		time.Sleep(500 * time.Microsecond)
	}
}

// TestKillNineLosesOnlyTheFlushWindow kills a process appending 5,000
// records/s with SIGKILL and reports the records it had appended that are
// not in the journal afterwards: the records in the memory buffer, at most
// a flush interval's worth while the disk keeps up. What survives must be a
// clean prefix (killOnce checks it); how much is lost is a measurement, not
// an assertion (it depends on the machine's load), recorded in
// docs/reliability.md.
func TestKillNineLosesOnlyTheFlushWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	for _, busy := range []bool{false, true} {
		name := map[bool]string{false: "quiet disk", true: "busy disk"}[busy]
		t.Run(name, func(t *testing.T) {
			const kills = 8
			var losses []int
			for i := 0; i < kills; i++ {
				losses = append(losses, killOnce(t, busy, time.Duration(500+97*i)*time.Millisecond))
			}
			slices.Sort(losses)
			t.Logf("%s: records lost per kill -9 at %d records/s over %d kills: min %d, median %d, max %d (%v)",
				name, killRate, kills, losses[0], losses[kills/2], losses[kills-1], losses)
		})
	}
}

// killOnce runs TestKillChild for d, kills it and returns how many of the
// records it reported appended are not in the journal.
func killOnce(t *testing.T, busy bool, d time.Duration) int {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$")
	cmd.Env = append(os.Environ(), killChildDir+"="+dir)
	if busy {
		cmd.Env = append(cmd.Env, killChildDir+"_DISK=1")
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan uint64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			n, _ := strconv.ParseUint(sc.Text(), 10, 64)
			lines <- n
		}
	}()
	var last uint64
	deadline := time.After(d)
	for done := false; !done; {
		select {
		case n, ok := <-lines:
			if !ok {
				done = true
			}
			last = max(last, n)
		case <-deadline:
			_ = cmd.Process.Signal(syscall.SIGKILL)
			deadline = nil
		}
	}
	_ = cmd.Wait()
	j, err := Open(dir, 1, Options{Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	kept := j.LastSeq()
	if last == 0 || kept > last {
		t.Fatalf("journal holds %d records, child reported %d", kept, last)
	}
	return int(last - kept)
}
