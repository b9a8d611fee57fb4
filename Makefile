# Every target installs and builds what it needs, so each works on a fresh clone.
.PHONY: all build test demo bench bench-flush conformance clean image image-test

all: build

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

dist/.built: node_modules/.installed tsconfig.json tsconfig.build.json $(shell find src -name '*.ts' 2>/dev/null)
	npm run build
	touch $@

build: dist/.built

test: build
	npx tsc -p tsconfig.json --noEmit
	npm test

# The embedded default: a real capture recorded on loopback by scripts/record-demo-capture.mjs,
# replayed into a fresh database so every run shows the same story.
DEMO_DB ?= build/demo/sensor.db
demo: build
	@mkdir -p $(dir $(DEMO_DB)) && rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	node dist/daemon/sensord.js --read test/fixtures/demo.pcap --db $(DEMO_DB) --summary
	@echo; echo "Profiles stored in $(DEMO_DB) (first 8 rows):"
	@node dist/cli/sensorctl.js export-profiles --db $(DEMO_DB) | head -n 8

bench: build
	npm run bench

conformance: build
	@test -f ../shared/conformance/check.mjs || { echo "make conformance: ../shared/conformance/check.mjs not found beside the checkout (FoxIO's reference captures and checker)" >&2; exit 2; }
	node ../shared/conformance/check.mjs --cmd "node dist/cli/sensorctl.js fingerprint"

clean:
	rm -rf dist coverage

# The flashable Raspberry Pi image (root; the Debian bootstrap is cached in /var/cache/ja4-sensor-image).
image: build
	bash image/build.sh

# Boots the image under qemu-system-aarch64 and checks it end to end (builds the image if missing).
image-test: build
	@test -f "dist/sensor-$$(node -p 'require("./package.json").version')-arm64.img.xz" || $(MAKE) image
	bash image/test.sh
