# Device set of virt-hotmem's qemu-system-aarch64: the virt board (which
# selects ACPI, GED, PCIe, pflash, PL011, MEM_DEVICE and DIMM) plus what the
# memory model and the guests in our tests use.
CONFIG_ARM_VIRT=y
CONFIG_NVDIMM=y
CONFIG_VIRTIO_MEM=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_BLK=y
CONFIG_VIRTIO_SERIAL=y
CONFIG_VIRTIO_RNG=y
# The virt board's default NIC (used by -nic user, slirp).
CONFIG_VIRTIO_NET=y
