package main

import (
	"bufio"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/api/resource"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		q, err := resource.ParseQuantity(sc.Text())
		if err != nil {
			fmt.Println("ERR")
			continue
		}
		fmt.Println(q.AsDec().String())
	}
}
