// Command pause is the sandbox (pause) container of the local node cluster (hack/local-cluster.sh up --node): it
// holds a pod's namespaces, reaps children it inherits as PID 1, and exits on SIGINT/SIGTERM. Built statically
// (CGO_ENABLED=0) into a FROM scratch image, because no registry is reachable to pull the upstream one.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s == syscall.SIGCHLD {
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		os.Exit(0)
	}
}
