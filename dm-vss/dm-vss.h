/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-vss: declarations shared by the files of the module.
 */
#ifndef DM_VSS_H
#define DM_VSS_H

#define DM_MSG_PREFIX "vss"
#define VSS_MODULE_VERSION "0.1.0"

int vss_cow_init(void);
void vss_cow_exit(void);
int vss_clone_init(void);
void vss_clone_exit(void);

#endif
