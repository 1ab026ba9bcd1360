# Device set of virt-hotmem's qemu-system-x86_64: q35 and pc with virtio;
# enough for the KVM guests of the precise-TSC tests.
CONFIG_Q35=y
CONFIG_I440FX=y
CONFIG_NVDIMM=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_BLK=y
CONFIG_VIRTIO_SERIAL=y
CONFIG_VIRTIO_RNG=y
