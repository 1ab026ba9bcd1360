/*
 * virt-hotmem: the Arm virt board with a movable memory map
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_ARM_VIRT_HOTMEM_H
#define HW_ARM_VIRT_HOTMEM_H

#include "hw/arm/virt.h"
#include "qom/object.h"

/*
 * Every versioned virt-hotmem-X.Y type implements this interface, so code
 * outside the board (QMP, tests) can tell a virt-hotmem machine apart from
 * any other, whatever upstream virt-X.Y it derives from.
 */
#define TYPE_VIRT_HOTMEM_MACHINE "virt-hotmem-machine"

typedef struct VirtHotmemMachineState {
    VirtMachineState parent_obj;
} VirtHotmemMachineState;

/* True if @ms is a virt-hotmem machine of any version. */
bool virt_hotmem_is_machine(MachineState *ms);

#endif /* HW_ARM_VIRT_HOTMEM_H */
