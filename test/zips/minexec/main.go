// Command minexec is the smallest ActionLoop exec: it acknowledges, then
// answers every activation with an empty object. The cold-start benchmark
// measures each action beside it: what no action can do faster.
package main

import (
	"bufio"
	"os"
)

func main() {
	out := os.NewFile(3, "results")
	if os.Getenv("__OW_WAIT_FOR_ACK") != "" {
		_, _ = out.WriteString("{\"ok\":true}\n")
	}
	in := bufio.NewReader(os.Stdin)
	for {
		if _, err := in.ReadBytes('\n'); err != nil {
			return
		}
		_, _ = out.WriteString("{}\n")
	}
}
