# Device set of virt-hotmem's qemu-system-x86_64.
#
# configure builds with QEMU's default devices, so this binary has the
# boards (pc, q35, microvm, isapc) and devices of Debian's
# qemu-system-x86_64: nothing is switched off here.  What the memory model
# and the tests need is named explicitly all the same.
CONFIG_Q35=y
CONFIG_I440FX=y
CONFIG_NVDIMM=y
CONFIG_VIRTIO_MEM=y
CONFIG_VIRTIO_PCI=y
