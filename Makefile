# OpenServerless Builder. `make help` lists the targets.

# The Go runtime's OW_EXECUTION_ENV: the runtime refuses a zip whose exec.env
# differs. OpenServerless go:1.22 is this one.
OW_EXECUTION_ENV ?= apacheopenserverless/runtime-golang-v1.22

ACTIONS := send logs registry cleanjobs updatetoml
ZIPS    := $(ACTIONS:%=build/%.zip)
# The version capabilities reports: the commit, as git describes it.
VERSION ?= $(shell git describe --always --tags 2>/dev/null || echo dev)
GOBUILD := CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -buildvcs=false \
	-ldflags "-s -w -buildid= -X github.com/apache/openserverless-builder/shared/handlers.version=$(VERSION)"

# Developer tools, built from hack/devtools (their versions are its go.mod)
# into the same cache as the local servers.
TOOLS       ?= $(or $(OSB_TOOLS),$(HOME)/.cache/osb-tools)
STATICCHECK := $(TOOLS)/bin/staticcheck
# go-task, which runs the seed's tasks (Taskfile.yml) in the suite.
TASK        := $(TOOLS)/bin/task

.PHONY: help build test e2e faults check lint clean setup tools demo bench transfer-image
help:
	@echo "make demo    the seed scenario on a local stack: build, follow, list, inspect, delete"
	@echo "make build   build/<action>.zip for $(ACTIONS)"
	@echo "make test    build the zips, then: go test ./... (unit tests, every zip through the invoker harness,"
	@echo "             the manifest, the CLI), the Dockerfile tests of test/dockerfile, the admission policy's CEL"
	@echo "             (test/policy) and the local node's (own modules)"
	@echo "make e2e     go test -tags e2e ./test/e2e/...: the integration suite on the local stack"
	@echo "make faults  the suite's failure cases alone (TestFault*: servers that stop, freeze, refuse; part of e2e)"
	@echo "make check   lint, test and e2e: what CI runs"
	@echo "make lint    gofmt, go vet and staticcheck over every module, the e2e tag included"
	@echo "make setup   check and install the prerequisites (apt packages, Go modules)"
	@echo "make tools   setup, then build the local servers the integration suite runs and go-task (cached)"
	@echo "make bench   benchmarks (in-process and on the local stack)"
	@echo "make transfer-image TO=<registry>/<repository>:<tag> [INSECURE=1]"
	@echo "             build cmd/transfer and push its image (the build pods' fetch and push steps) to TO"
	@echo "make clean   remove build/"

build: $(ZIPS)

# The transfer image of this commit: the static binary as its one layer,
# pushed to TO with the docker config's credential ($$DOCKER_CONFIG); it
# prints the repository@digest that transfer_image pins.
transfer-image:
	@test -n "$(TO)" || { echo "usage: make transfer-image TO=<registry>/<repository>:<tag> [INSECURE=1]" >&2; exit 2; }
	@mkdir -p build/transfer
	@$(GOBUILD) -o build/transfer/transfer ./cmd/transfer
	@build/transfer/transfer publish $(if $(INSECURE),--insecure) $(TO)

# Always rebuilt (go build is incremental); pack makes the bytes reproducible.
build/%.zip: FORCE
	@mkdir -p build/$*
	$(GOBUILD) -o build/$*/exec ./actions/$*
	@printf '%s\n' '$(OW_EXECUTION_ENV)' > build/$*/exec.env
	@go run ./hack/pack -o $@ build/$*/exec build/$*/exec.env
	@echo "$@: $$(stat -c %s $@) bytes"

FORCE:

# go test ./... leaves out test/e2e (build tag e2e: make e2e), and the
# modules of their own: test/dockerfile (BuildKit's parser), test/policy
# (deploy/admission.yaml's CEL, with cel-go) and hack/node
# (the local node's pure parts): run here.
test: build
	go test ./...
	cd test/dockerfile && go test ./...
	cd test/policy && go test -count=1 ./...
	cd hack/node && go test ./...

e2e: build tools
	go test -tags e2e -count=1 -timeout 30m ./test/e2e/...

# The failure cases (README, "Failures"), also run by e2e.
faults: build tools
	go test -tags e2e -count=1 -timeout 15m -run '^TestFault' -v ./test/e2e/...

# The prerequisites first (quick when present), so that a missing one is
# found before any long build.
check: setup lint test e2e

setup:
	./hack/setup.sh

# tools runs setup itself first (Go included), then builds go-task.
tools:
	./hack/tools.sh
	@$(MAKE) --no-print-directory $(TASK)

# The builder's whole story on the local stack, from the zips; as the first
# command on a fresh machine it installs and builds what it needs.
demo: tools build
	go run ./hack/demo

# Every Go file git tracks is formatted; vet and staticcheck run over each
# module with code (the main one, with and without the e2e tag; the
# Dockerfile tests; the local node).
lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	go vet -tags e2e ./test/e2e/...
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags e2e ./test/e2e/...
	for m in test/dockerfile test/policy hack/node; do (cd $$m && go vet ./... && $(STATICCHECK) ./...) || exit 1; done

$(STATICCHECK): hack/devtools/go.mod hack/devtools/go.sum
	@mkdir -p $(@D)
	go build -C hack/devtools -o $@ honnef.co/go/tools/cmd/staticcheck

$(TASK): hack/devtools/go.mod hack/devtools/go.sum
	@mkdir -p $(@D)
	go build -C hack/devtools -o $@ github.com/go-task/task/v3/cmd/task

# Benchmarks: the builder's own cost in-process, each zip under the harness,
# then against the local stack; one table at the end (BENCHMARKS.md).
bench: SHELL := /bin/bash
bench: build tools
	set -o pipefail; { \
	go test -run '^$$' -bench . -benchtime 20000x ./shared/handlers/ && \
	go test -run '^$$' -bench . -benchtime 20x ./test/zips/ && \
	go test -tags e2e -run '^$$' -bench 'SendRealAPI' -benchtime 200x ./test/e2e/ && \
	go test -tags e2e -run '^$$' -bench 'CleanJobs|ListCatalogs|ListImages' -benchtime 1x ./test/e2e/ && \
	go test -tags e2e -run '^$$' -bench 'SeedScenario' -benchtime 5x ./test/e2e/ && \
	go test -tags e2e -run '^$$' -bench 'BuildCache' -benchtime 2x ./test/e2e/ && \
	go test -tags e2e -run '^$$' -bench 'BuildCost' -benchtime 1x ./test/e2e/ && \
	go test -tags e2e -run '^$$' -bench 'ListCatalogsCrowd' -benchtime 1x -timeout 60m ./test/e2e/ && \
	go test -tags e2e -run '^$$' -bench 'SendBuildsLogsCrowd' -benchtime 1x -timeout 60m ./test/e2e/ ; \
	} | tee build/bench.txt
	@echo
	@go run ./hack/benchtable < build/bench.txt

clean:
	rm -rf build
