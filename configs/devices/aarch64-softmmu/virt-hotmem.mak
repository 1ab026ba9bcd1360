# Device set of virt-hotmem's qemu-system-aarch64.
#
# configure builds with QEMU's default devices (as Debian's qemu-system-arm
# does), so every device that Kconfig enables by default for a PCI/virtio
# board is here: virtio-net/-blk/-scsi/-gpu/-balloon/-rng/-serial/-vsock,
# pcie-root-port, qemu-xhci with the USB HID devices, e1000e, NVMe, ...
#
# Debian also builds every other Arm board into this binary.  They are pure
# build time for virt-hotmem (each brings its own SoC models), so only the
# virt board is kept; these are the boards of hw/arm/Kconfig that default
# to y.
CONFIG_ALLWINNER_H3=n
CONFIG_ALLWINNER_R40=n
CONFIG_ASPEED_SOC=n
CONFIG_B_L475E_IOT01A=n
CONFIG_COLLIE=n
CONFIG_CUBIEBOARD=n
CONFIG_DIGIC=n
CONFIG_EMCRAFT_SF2=n
CONFIG_EXYNOS4=n
CONFIG_FSL_IMX25=n
CONFIG_FSL_IMX31=n
CONFIG_FSL_IMX6UL=n
CONFIG_FSL_IMX7=n
CONFIG_FSL_IMX8MP_EVK=n
CONFIG_HIGHBANK=n
CONFIG_INTEGRATOR=n
CONFIG_MICROBIT=n
CONFIG_MPS2=n
CONFIG_MPS3R=n
CONFIG_MUSCA=n
CONFIG_MUSICPAL=n
CONFIG_NETDUINO2=n
CONFIG_NETDUINOPLUS2=n
CONFIG_NPCM7XX=n
CONFIG_NPCM8XX=n
CONFIG_OLIMEX_STM32_H405=n
CONFIG_RASPI=n
CONFIG_REALVIEW=n
CONFIG_SABRELITE=n
CONFIG_SBSA_REF=n
CONFIG_STELLARIS=n
CONFIG_STM32VLDISCOVERY=n
CONFIG_SX1=n
CONFIG_VERSATILE=n
CONFIG_VEXPRESS=n
CONFIG_VMAPPLE=n
CONFIG_XLNX_VERSAL=n
CONFIG_XLNX_ZYNQMP_ARM=n
CONFIG_ZYNQ=n

# The board and the memory devices of virt-hotmem (virt selects ACPI, GED,
# PCIe, pflash, PL011, MEM_DEVICE and DIMM).
CONFIG_ARM_VIRT=y
CONFIG_NVDIMM=y
CONFIG_VIRTIO_MEM=y
