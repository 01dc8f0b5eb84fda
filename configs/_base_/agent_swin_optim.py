# The Agent-Swin optimiser for COCO: AdamW lr 1e-4, wd 0.05, and no weight decay on
# norms, position tables and the six agent-bias parameters.
agent_swin_no_decay = {
    k: dict(decay_mult=0.)
    for k in ('absolute_pos_embed', 'relative_position_bias_table', 'norm', 'an_bias',
              'na_bias', 'ah_bias', 'aw_bias', 'ha_bias', 'wa_bias')
}
