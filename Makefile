# virt-hotmem: the two commands of README.md, 'make demo' and 'make check',
# and the steps they are made of.  Every target installs what it lacks
# (as root) and prints the time each phase took.

SHELL := /bin/bash
BUILD := build
NINJA := ninja
# NINJA may carry options (make build NINJA="ninja -j2").  Make would put a
# command-line NINJA into the recipes' environment, where meson, when it
# regenerates a build directory, takes it for the name of its ninja
# program and fails ("Could not detect Ninja").  Recipes pass it on as an
# argument instead.
unexport NINJA
PYTHON := python3
EMULATORS := $(BUILD)/qemu-system-aarch64 $(BUILD)/qemu-system-x86_64
CONFIGURED := $(BUILD)/.virt-hotmem-configured
CONFIGURE_INPUTS := configure scripts/apply-patches.sh qemu.sha256 $(wildcard patches/*.patch patches/*/*.patch) \
	$(wildcard configs/devices/*/*.mak)

# ccache (configure uses it when installed) hashes paths relative to the
# clone and not the build directory's name, so that a second clone of this
# repository, wherever it is, reuses what the first one compiled.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

# $(call timed,PHASE,COMMAND): run COMMAND, then print how long PHASE took.
timed = t0=$$(date +%s.%N); $(2); rc=$$?; \
	awk -v a=$$t0 -v b=$$(date +%s.%N) \
	    'BEGIN { printf "make: %s took %.1f s\n", "$(1)", b - a }'; \
	exit $$rc

.PHONY: all build deps check demo fuzz bench clean distclean help \
	install uninstall docs check-sanitizers build-arm64 check-arm64-artifact \
	qemu-test-programs firmware other-base

all: build firmware

help:
	@echo "make         build $(EMULATORS) and $(FIRMWARE)"
	@echo "make firmware  build $(FIRMWARE) (EDK II ArmVirtQemuKernel from Debian's edk2 source)"
	@echo "make demo    boot the Debian arm64 guest on virt-hotmem, show its memory"
	@echo "make check   build and run every test suite"
	@echo "make fuzz    build and run the memory-map planner's fuzzer"
	@echo "make check-sanitizers  1000 DIMM plug/unplug cycles, ASan+UBSan build (build-sanitizers/)"
	@echo "make bench   precise-tsc (one and two emulated AMD-V hosts); ACPI boot times; hotplug, DIMM migration, virsh migrate and UEFI disk boot, virt vs virt-hotmem"
	@echo "make other-base  build the emulators on the other QEMU base, $(OTHER_BASE), in $(OTHER_BUILD)"
	@echo "make clean   remove build/ and bases/ (keeps the downloaded QEMU source in cache/)"
	@echo "make docs      build QEMU's manual and man pages (with our pages) in $(BUILD)/docs"
	@echo "make install   copy the two emulators, the manual and the man pages under \$$(DESTDIR)\$$(PREFIX) (PREFIX=$(PREFIX))"
	@echo "make uninstall remove exactly what make install copied"
	@echo "make build-arm64  cross-build $(ARM64_BUILD)/qemu-system-aarch64 (static, KVM) for the Arm KVM test"

# Packages: a no-op when everything is installed.  Not root: configure and
# the tests say what is missing and the apt command that installs it.
deps:
	@if [ "$$(id -u)" = 0 ]; then \
	    $(call timed,dependencies,scripts/install-deps.sh all); \
	else \
	    echo "make: not root, not installing packages (see scripts/install-deps.sh)"; \
	fi

$(CONFIGURED): $(CONFIGURE_INPUTS)
	@$(call timed,configure,./configure)

# ninja knows every dependency: after editing one overlay file only what
# depends on it is rebuilt.
build: $(CONFIGURED)
	@$(call timed,build,$(NINJA) -C $(BUILD) qemu-system-aarch64 qemu-system-x86_64 overlay-tests | \
	    grep -v '^\[' ; test $${PIPESTATUS[0]} = 0)

# UEFI firmware for the moved memory maps: EDK II's ArmVirtQemuKernel,
# built from Debian's edk2 source package (scripts/build-firmware.sh) in
# $(EDK2_BUILD), the image kept in cache/ so that it is built once.  After
# configure: configure empties build/, pc-bios/ included.
FIRMWARE := $(BUILD)/pc-bios/virt-hotmem-efi-aarch64.fd
EDK2_BUILD := build-edk2
firmware: $(FIRMWARE)
$(FIRMWARE): scripts/build-firmware.sh | $(CONFIGURED)
	@$(call timed,firmware,scripts/build-firmware.sh $@ $(EDK2_BUILD))

# The other QEMU base (./configure --qemu-base, README.md): the same overlay
# and patch stack (with patches/$(OTHER_BASE)/'s variants) on QEMU
# $(OTHER_BASE), in $(OTHER_BASE_DIR)/ (tests/acceptance/vhm/bases.py finds
# it).  The same ccache: objects whose preprocessed source did not change
# between the bases are not compiled again.  The two emulators and our
# qtest programs, compiled against that base (their expectations may
# differ per base); tests/run-tests.py runs them with its emulators.  The UEFI firmware does not depend on the base: its pc-bios/
# links to the main build's image, so that a test finds it there too.
# The base the main build is not on (10.2 unless ./configure was given
# --qemu-base=10.2; before the first configure, the default 10.0 is).
MAIN_BASE := $(shell cut -d. -f1,2 assembled/qemu/VERSION 2>/dev/null)
OTHER_BASE := $(if $(filter 10.2,$(MAIN_BASE)),10.0,10.2)
OTHER_BASE_DIR := bases/$(OTHER_BASE)
OTHER_BUILD := $(OTHER_BASE_DIR)/build
OTHER_CONFIGURED := $(OTHER_BUILD)/.virt-hotmem-configured
$(OTHER_CONFIGURED): $(CONFIGURE_INPUTS)
	@$(call timed,configure $(OTHER_BASE),./configure --qemu-base=$(OTHER_BASE) --out=$(OTHER_BASE_DIR))

other-base: $(OTHER_CONFIGURED)
	@$(call timed,build $(OTHER_BASE),$(NINJA) -C $(OTHER_BUILD) qemu-system-aarch64 qemu-system-x86_64 \
	    $$(sed -n 's|^qtest-[^ ]* $(abspath $(OTHER_BUILD))/||p' $(OTHER_BUILD)/overlay/tests/manifest.txt) | \
	    grep -v '^\[' ; test $${PIPESTATUS[0]} = 0)
	@ln -sfn $(abspath $(FIRMWARE)) $(OTHER_BUILD)/pc-bios/$(notdir $(FIRMWARE))

# QEMU's own test programs, which make check runs on the patched tree:
# check-unit and the qtests of both targets (tests/qemu_suites.py).
qemu-test-programs: $(CONFIGURED)
	@$(call timed,QEMU test programs,$(NINJA) -C $(BUILD) \
	    $$($(PYTHON) tests/run-tests.py --build $(BUILD) --list-qemu-test-programs) | \
	    grep -v '^\[' ; test $${PIPESTATUS[0]} = 0)

# The runner's last line is the summary "N passed, N failed, N skipped".
check: deps build firmware qemu-test-programs check-arm64-artifact other-base
	@$(PYTHON) tests/run-tests.py --build $(BUILD)

demo: deps build firmware other-base
	@$(PYTHON) scripts/demo.py

# The planner's libFuzzer target, FUZZ_SECONDS long (it links libqemuutil).
FUZZ_SECONDS ?= 300
fuzz: deps build
	@tests/fuzz/run-fuzz.sh $(BUILD) $(FUZZ_SECONDS)

# 1000 DIMM plug/unplug cycles on an ASan+UBSan build in its own build
# directory, then on the normal build with RSS before and after.  Not part
# of check: the sanitizer build alone takes many minutes.
check-sanitizers: deps build
	@scripts/check-sanitizers.sh $(BUILD) build-sanitizers "$(NINJA)"

# End-to-end precise-tsc figures in an emulated AMD-V host, then between
# two of them (medians of BENCH_ROUNDS rounds, precise-tsc on and off);
# hotplug latency and DIMM migration, virt against virt-hotmem; UEFI disk
# boot, virt-hotmem's firmware against virt's AAVMF.
BENCH_ROUNDS ?= 3
# Boot time of acpi=on against device tree and UEFI boot (medians of
# BENCH_ACPI_ROUNDS boots each).
BENCH_ACPI_ROUNDS ?= 5
bench: deps build firmware
	@$(PYTHON) scripts/bench-precise-tsc.py $(BENCH_ROUNDS)
	@$(PYTHON) scripts/bench-precise-tsc-2host.py $(BENCH_ROUNDS)
	@$(PYTHON) scripts/bench-acpi-boot.py $(BENCH_ACPI_ROUNDS)
	@$(PYTHON) scripts/bench-hotplug.py $(BENCH_ROUNDS)
	@$(PYTHON) scripts/bench-libvirt-migration.py $(BENCH_ROUNDS)
	@$(PYTHON) scripts/bench-uefi-boot.py $(BENCH_ROUNDS)

clean:
	rm -rf $(BUILD) $(ARM64_BUILD) $(EDK2_BUILD) build-sanitizers assembled bases

distclean: clean
	rm -rf cache

# make install: the two emulators, QEMU's manual (HTML, with the QMP
# reference and our pages) and its man pages, all built from docs/ by QEMU's
# Sphinx setup (warnings are errors), and the UEFI firmware for the moved
# memory maps with its firmware descriptor (docs/interop/firmware.json's
# schema), which names it for the virt-hotmem* machines.  The other
# firmware is Debian's, found through the --firmwarepath configure gives.
# PREFIX defaults to /usr/local, which Debian's packages never write to; a
# file that a Debian package owns is never overwritten, whatever PREFIX says.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/virt-hotmem
QEMUDATADIR ?= $(PREFIX)/share/qemu
DESCRIPTOR := 30-virt-hotmem-edk2-aarch64.json
MAN_PAGES := man1/qemu.1 man7/qemu-block-drivers.7 man7/qemu-cpu-models.7 \
	man7/qemu-qmp-ref.7
INSTALL_PATHS := $(addprefix $(BINDIR)/,$(notdir $(EMULATORS))) \
	$(QEMUDATADIR)/$(notdir $(FIRMWARE)) \
	$(QEMUDATADIR)/firmware/$(DESCRIPTOR) \
	$(addprefix $(MANDIR)/,$(MAN_PAGES))

# QEMU's HTML manual (build/docs/manual) and man pages (build/docs/*.[17]).
# QEMU gives Sphinx -W only with --enable-werror, which would make every C
# warning fatal too: here any warning Sphinx prints fails the target, and
# the manual's stamp is removed so that the next run tries again.
docs: $(CONFIGURED)
	@$(call timed,docs,$(NINJA) -C $(BUILD) man > $(BUILD)/docs.log 2>&1; \
	    rc=$$?; grep -v '^\[' $(BUILD)/docs.log; \
	    if [ $$rc != 0 ] || grep -q 'WARNING:\|ERROR:' $(BUILD)/docs.log; then \
	        rm -f $(BUILD)/docs/docs.stamp; \
	        echo "make docs: Sphinx failed or warned (warnings are errors)" >&2; \
	        false; \
	    fi)

# $(call refuse_debian_files,TARGET,WHAT IT WOULD NOT DO): without DESTDIR,
# stop before touching a file that a Debian package owns (Debian ships its
# man pages compressed, so FILE.gz counts too).
refuse_debian_files = for f in $(INSTALL_PATHS); do \
	    for g in "$$f" "$$f.gz"; do \
	        if [ -z "$(DESTDIR)" ] && owner=$$(dpkg-query -S "$$g" 2>/dev/null); then \
	            echo "make $(1): $$g belongs to Debian's $${owner%%:*}; $(2)" >&2; \
	            exit 1; \
	        fi; \
	    done; \
	done

install: build docs firmware
	@$(call refuse_debian_files,install,not overwriting it (use PREFIX=/usr/local))
	install -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(MANDIR)/man1" \
	    "$(DESTDIR)$(MANDIR)/man7" "$(DESTDIR)$(DOCDIR)" \
	    "$(DESTDIR)$(QEMUDATADIR)/firmware"
	install -m 755 $(EMULATORS) "$(DESTDIR)$(BINDIR)/"
	install -m 644 $(FIRMWARE) "$(DESTDIR)$(QEMUDATADIR)/"
	sed 's|@FIRMWARE@|$(QEMUDATADIR)/$(notdir $(FIRMWARE))|' \
	    firmware/$(DESCRIPTOR).in > "$(DESTDIR)$(QEMUDATADIR)/firmware/$(DESCRIPTOR)"
	chmod 644 "$(DESTDIR)$(QEMUDATADIR)/firmware/$(DESCRIPTOR)"
	for m in $(MAN_PAGES); do \
	    install -m 644 "$(BUILD)/docs/$${m#*/}" "$(DESTDIR)$(MANDIR)/$$m" || exit 1; \
	done
	cp -R $(BUILD)/docs/manual/. "$(DESTDIR)$(DOCDIR)/"

uninstall:
	@$(call refuse_debian_files,uninstall,not removing it)
	rm -f $(addprefix $(DESTDIR),$(INSTALL_PATHS))
	rm -rf "$(DESTDIR)$(DOCDIR)"

# The Arm KVM acceptance test (tests/acceptance/test_arm_kvm.py) runs this
# QEMU, cross-built for arm64, in an emulated Arm host: static, KVM only,
# from the tree configure assembled (scripts/build-arm64.sh).
ARM64_BUILD := build-arm64
build-arm64: $(CONFIGURED)
	@$(call timed,build-arm64,scripts/build-arm64.sh $(ARM64_BUILD) "$(NINJA)")

# make check builds it where Debian's cross toolchain and :arm64 libraries
# are installed (make deps as root installs them); elsewhere the test skips
# and says why.
check-arm64-artifact: $(CONFIGURED)
	@if command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 && \
	    aarch64-linux-gnu-pkg-config --exists glib-2.0 pixman-1 zlib 2>/dev/null; then \
	    $(call timed,build-arm64,scripts/build-arm64.sh $(ARM64_BUILD) "$(NINJA)"); \
	else \
	    echo "make: no arm64 cross toolchain, not building $(ARM64_BUILD) (scripts/install-deps.sh cross)"; \
	fi
