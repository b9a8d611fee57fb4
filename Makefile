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
	npm test

demo: build
	node dist/daemon/sensord.js --read test/fixtures/demo.pcapng --db "$${SENSOR_DEMO_DB:-/tmp/sensor-demo.db}" --summary

bench: build
	npm run bench

conformance: build
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
