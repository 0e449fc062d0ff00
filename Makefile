# Stride's build. `make test` is what CI runs (.ci/run).
GO      ?= go
PKGS    := ./...
BENCH   ?= .
BENCHTIME ?= 1s

.PHONY: all build test vet fmt-check unit examples bench plan-10k fuzz clean mesos test-mesos consul

all: build

# The version comes from git (the nearest tag without its "v"; without a tag,
# 0.1.0-dev+<commit>) and is set in the one place that holds it, internal/version;
# `go build` alone says 0.1.0-dev.
VERSION ?= $(shell v=$$(git describe --tags --dirty 2>/dev/null) && echo $${v\#v} || echo 0.1.0-dev+$$(git rev-parse --short HEAD 2>/dev/null || echo unknown))
LDFLAGS := -X github.com/stride-run/stride/internal/version.Version=$(VERSION)

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/stride ./cmd/stride

# Every test: formatting, vet, unit/integration tests, and the examples validate.
test: fmt-check vet unit examples

fmt-check:
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# The cluster-mode tests run a real Consul agent: scripts/consul.sh builds it once
# (about 10 minutes on 2 cores) into a cache outside the clone and prints its path.
unit:
	consul=$$(scripts/consul.sh) && STRIDE_TEST_CONSUL=$$consul $(GO) test -count=1 $(PKGS)

examples: build
	@for d in examples/*/; do \
		echo "stride validate $$d"; ./bin/stride validate -no-color $$d || exit 1; \
	done

# Benchmarks of every hot path (figures go in the issue notes).
bench:
	consul=$$(scripts/consul.sh) && STRIDE_TEST_CONSUL=$$consul $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) $(PKGS)

# The 10k-app `stride plan` measurement (issue 12): writes 10,000 apps over 10
# files and a deployed state 10% different into $(PLAN10K) (internal/plangen),
# then times the built stride plan on them 5 times: wall and CPU time, peak RSS
# (/usr/bin/time), with the load average before each run.
PLAN10K ?= /tmp/stride-plan-10k
plan-10k: build
	$(GO) run ./internal/plangen/gen -apps 10000 $(PLAN10K)
	@for i in 1 2 3 4 5; do \
		uptime; \
		/usr/bin/time -f "%e s wall, %U s user, %S s sys, %M kB peak RSS" ./bin/stride plan -no-color -state $(PLAN10K)/state.json $(PLAN10K)/config >/dev/null || exit 1; \
	done

# A short fuzzing run of the decoders (go test -fuzz takes one target at a time).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./hcl
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeApp$$' -fuzztime $(FUZZTIME) ./engine
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeGroupUpdate$$' -fuzztime $(FUZZTIME) ./engine
	$(GO) test -run '^$$' -fuzz '^FuzzNestingScan$$' -fuzztime $(FUZZTIME) ./hcl
	$(GO) test -run '^$$' -fuzz '^FuzzStrideBodies$$' -fuzztime $(FUZZTIME) ./executor/api
	$(GO) test -run '^$$' -fuzz '^FuzzParseOrdered$$' -fuzztime $(FUZZTIME) ./cmd/stride/internal/view

# The real Apache Mesos of ../shared/mesos for the real-cluster tests: installs its
# runtime packages if missing, unpacks it into ~/.cache/stride (once) and prints the
# directory to export: export STRIDE_TEST_MESOS=$(make -s mesos)
mesos:
	@scripts/mesos.sh

# Only the tests against a real Mesos cluster (they skip without STRIDE_TEST_MESOS).
test-mesos:
	dist=$$(scripts/mesos.sh) && STRIDE_TEST_MESOS=$$dist $(GO) test -count=1 -run 'RealMesos|Conformance' ./executor/...

# The real Consul agent the cluster-mode tests run (tools/consul, Consul v1.22.0),
# built once into ~/.cache/stride/consul-1.22.0; prints the binary's path:
# export STRIDE_TEST_CONSUL=$(make -s consul)
consul:
	@scripts/consul.sh

clean:
	rm -rf bin
