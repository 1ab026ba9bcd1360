# Device set of virt-hotmem's qemu-system-x86_64: q35 and pc with virtio;
# enough for the KVM guests of the precise-TSC tests.
CONFIG_Q35=y
CONFIG_I440FX=y
CONFIG_NVDIMM=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_BLK=y
CONFIG_VIRTIO_SERIAL=y
CONFIG_VIRTIO_RNG=y
# The default display (std VGA) and NICs of q35 (e1000e) and pc (e1000),
# and virtio-net.
CONFIG_VGA_PCI=y
CONFIG_E1000E_PCI_EXPRESS=y
CONFIG_E1000_PCI=y
CONFIG_VIRTIO_NET=y
