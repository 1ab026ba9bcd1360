# Device set of the cross-built build-arm64/qemu-system-aarch64 (make
# build-arm64), a test artifact run under KVM in an emulated Arm host: the
# virt board alone (PL011, PCIe, GED, ...), enough for a busybox guest on
# its serial console.
CONFIG_ARM_VIRT=y
