/* Inline parts of health/state.h. */
#ifndef MRD_HEALTH_STATE_INL_H
#define MRD_HEALTH_STATE_INL_H
static inline struct mrd_origin_ctr *mrd_origin_ctr(const struct mrd_cfg_origin *o, int wid)
{
    return &o->rt->ctr[wid];
}
#endif
