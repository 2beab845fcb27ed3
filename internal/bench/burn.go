package bench

import (
	"fmt"
	"os/exec"
)

// StartBurners starts n processes that each keep one CPU busy (a shell
// busy loop), so that a benchmark can be repeated with the other core
// taken: its contended variant. stop ends them and waits for them.
func StartBurners(n int) (stop func(), err error) {
	var cmds []*exec.Cmd
	stop = func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
		cmds = nil
	}
	for range n {
		c := exec.Command("sh", "-c", "while :; do :; done")
		if err := c.Start(); err != nil {
			stop()
			return func() {}, fmt.Errorf("bench: starting a CPU burner: %w", err)
		}
		cmds = append(cmds, c)
	}
	return stop, nil
}
