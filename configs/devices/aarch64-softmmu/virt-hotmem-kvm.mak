# Device set of the cross-built build-arm64/qemu-system-aarch64 (make
# build-arm64), a test artifact run under KVM in an emulated Arm host: the
# virt board alone (PL011, PCIe, GED, ...), enough for a busybox guest on
# its serial console, and vhost-vsock-pci, which the host kernel of some
# machines lacks (tests/acceptance/test_features_devices.py runs it there).
CONFIG_ARM_VIRT=y
CONFIG_VIRTIO_PCI=y
CONFIG_VHOST_VSOCK=y
