"""`ltu-as`: LTU-AS (GitHub YuanGongND/ltu), served from its own environment."""
