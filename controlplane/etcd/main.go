// Command etcd is etcd's own server entry point, built from its published module: `go install`
// of etcd itself fails because etcd's server/go.mod carries replace directives.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
