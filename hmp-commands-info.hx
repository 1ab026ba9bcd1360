HXCOMM virt-hotmem's HMP 'info' commands.  configure links this file in as
HXCOMM overlay/hmp-commands-info.hx, whose entries QEMU's table of 'info'
HXCOMM commands ends with (patches/0004); same format as QEMU's
HXCOMM hmp-commands-info.hx.  The handler is registered with
HXCOMM monitor_register_hmp() by the code providing the command.

    {
        .name       = "memory-layout",
        .args_type  = "",
        .params     = "",
        .help       = "show the planned guest physical memory map",
    },

SRST
  ``info memory-layout``
    Show every region of the guest physical memory map that the machine
    planned (RAM banks, device memory, MMIO, host-reserved ranges),
    sorted by address.  Only virt-hotmem machines plan their map; any
    other machine answers with an error.
ERST
