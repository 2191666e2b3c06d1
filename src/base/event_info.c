// SPDX-License-Identifier: GPL-2.0
#include "base/event_info.h"

#include <stddef.h>

#include "base/blocks.h"

#define PM_INFO_ROW(name, num, rec, native_, sub, lc, cfg, drop_)                        \
	[PM_EVENT_##name] = { .native = native_, .subtype = sub, .limacharlie = lc,     \
			      .block = PM_BLOCK_##cfg, .record = PM_RECORD_##rec, .drop = PM_DROP_##drop_ },
static const struct pm_event_info infos[PM_EVENT_TYPE_END] = { PM_EVENT_TABLE(PM_INFO_ROW) };
#undef PM_INFO_ROW

#define PM_DROP_NAME_ROW(name, num, text) [PM_DROP_##name] = text,
const char *const pm_drop_names[PM_DROP_MAX] = { PM_DROP_TABLE(PM_DROP_NAME_ROW) };
#undef PM_DROP_NAME_ROW

const struct pm_event_info *pm_event_info(uint32_t type)
{
	/* every row has a record kind or a name; the numbers between have neither */
	if (type >= PM_EVENT_TYPE_END || (!infos[type].record && !infos[type].native))
		return NULL;
	return &infos[type];
}
