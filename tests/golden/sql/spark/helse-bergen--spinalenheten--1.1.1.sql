WITH __koordrules_stage_1 AS (
  SELECT
    *,
    (
      `expected_followup_months` > CAST(6 AS DOUBLE)
    ) AS `__koordrules_c0`,
    (
      (
        (
          `high_treatment_intensity` OR `individually_adapted_pathway`
        )
        OR (
          `newly_diagnosed_chronic` OR `lifelong_course`
        )
      )
      OR `transition_child_to_adult`
    ) AS `__koordrules_c1`,
    `situation_indicates_need` AS `__koordrules_c2`,
    (
      `involved_units` >= 2
    ) AS `__koordrules_c3`
  FROM `records`
), __koordrules_rules AS (
  SELECT
    *,
    `has_coordinator` AS `__koordrules_r0`,
    `inpatient_spinal_unit` AS `__koordrules_r1`,
    (
      `__koordrules_c0`
      AND CASE
        WHEN (
          2 IS NULL
        )
        THEN NULL
        WHEN (
          (
            (
              CASE WHEN `__koordrules_c1` THEN 1 ELSE 0 END + CASE WHEN `__koordrules_c2` THEN 1 ELSE 0 END
            ) + CASE WHEN `__koordrules_c3` THEN 1 ELSE 0 END
          ) >= 2
        )
        THEN TRUE
        WHEN (
          (
            (
              (
                CASE WHEN `__koordrules_c1` THEN 1 ELSE 0 END + CASE WHEN `__koordrules_c2` THEN 1 ELSE 0 END
              ) + CASE WHEN `__koordrules_c3` THEN 1 ELSE 0 END
            ) + (
              (
                CASE WHEN (
                  `__koordrules_c1` IS NULL
                ) THEN 1 ELSE 0 END + CASE WHEN (
                  `__koordrules_c2` IS NULL
                ) THEN 1 ELSE 0 END
              ) + CASE WHEN (
                `__koordrules_c3` IS NULL
              ) THEN 1 ELSE 0 END
            )
          ) < 2
        )
        THEN FALSE
        ELSE NULL
      END
    ) AS `__koordrules_r2`
  FROM `__koordrules_stage_1`
), __koordrules_outcome AS (
  SELECT
    *,
    CASE
      WHEN (
        `__koordrules_r0` IS NULL
      )
      THEN NULL
      WHEN `__koordrules_r0`
      THEN 'already_has_coordinator'
      WHEN (
        `__koordrules_r1` IS NULL
      )
      THEN NULL
      WHEN `__koordrules_r1`
      THEN 'assign_coordinator'
      WHEN (
        `__koordrules_r2` IS NULL
      )
      THEN NULL
      WHEN `__koordrules_r2`
      THEN 'coordinator_likely'
      ELSE 'not_indicated'
    END AS `__koordrules_outcome`,
    CASE
      WHEN `__koordrules_r0`
      THEN 0
      WHEN `__koordrules_r1`
      THEN 1
      WHEN `__koordrules_r2`
      THEN 2
      ELSE 3
    END AS `__koordrules_first`,
    CASE
      WHEN (
        2 IS NULL
      )
      THEN NULL
      WHEN (
        (
          (
            CASE WHEN `__koordrules_c1` THEN 1 ELSE 0 END + CASE WHEN `__koordrules_c2` THEN 1 ELSE 0 END
          ) + CASE WHEN `__koordrules_c3` THEN 1 ELSE 0 END
        ) >= 2
      )
      THEN TRUE
      WHEN (
        (
          (
            (
              CASE WHEN `__koordrules_c1` THEN 1 ELSE 0 END + CASE WHEN `__koordrules_c2` THEN 1 ELSE 0 END
            ) + CASE WHEN `__koordrules_c3` THEN 1 ELSE 0 END
          ) + (
            (
              CASE WHEN (
                `__koordrules_c1` IS NULL
              ) THEN 1 ELSE 0 END + CASE WHEN (
                `__koordrules_c2` IS NULL
              ) THEN 1 ELSE 0 END
            ) + CASE WHEN (
              `__koordrules_c3` IS NULL
            ) THEN 1 ELSE 0 END
          )
        ) < 2
      )
      THEN FALSE
      ELSE NULL
    END AS `__koordrules_s0`
  FROM `__koordrules_rules`
)
SELECT
  `__koordrules_outcome` AS `outcome`,
  `__koordrules_c0` AS `A`,
  `__koordrules_c1` AS `B`,
  `__koordrules_c2` AS `C`,
  `__koordrules_c3` AS `D`,
  CASE
    WHEN (
      `__koordrules_outcome` IS NULL
    )
    THEN FILTER(
      ARRAY(
        CASE
          WHEN (
            (
              `__koordrules_first` >= 2
            )
            AND (
              (
                `__koordrules_r2` IS NULL
              )
              AND (
                (
                  `__koordrules_c0` IS NULL
                ) AND (
                  `expected_followup_months` IS NULL
                )
              )
            )
          )
          THEN 'expected_followup_months'
          ELSE CAST(NULL AS STRING)
        END,
        CASE
          WHEN (
            `has_coordinator` IS NULL
          )
          THEN 'has_coordinator'
          ELSE CAST(NULL AS STRING)
        END,
        CASE
          WHEN (
            (
              `__koordrules_first` >= 2
            )
            AND (
              (
                `__koordrules_r2` IS NULL
              )
              AND (
                (
                  `__koordrules_s0` IS NULL
                )
                AND (
                  (
                    `__koordrules_c1` IS NULL
                  ) AND (
                    `high_treatment_intensity` IS NULL
                  )
                )
              )
            )
          )
          THEN 'high_treatment_intensity'
          ELSE CAST(NULL AS STRING)
        END,
        CASE
          WHEN (
            (
              `__koordrules_first` >= 2
            )
            AND (
              (
                `__koordrules_r2` IS NULL
              )
              AND (
                (
                  `__koordrules_s0` IS NULL
                )
                AND (
                  (
                    `__koordrules_c1` IS NULL
                  ) AND (
                    `individually_adapted_pathway` IS NULL
                  )
                )
              )
            )
          )
          THEN 'individually_adapted_pathway'
          ELSE CAST(NULL AS STRING)
        END,
        CASE
          WHEN (
            (
              `__koordrules_first` >= 1
            ) AND (
              `inpatient_spinal_unit` IS NULL
            )
          )
          THEN 'inpatient_spinal_unit'
          ELSE CAST(NULL AS STRING)
        END,
        CASE
          WHEN (
            (
              `__koordrules_first` >= 2
            )
            AND (
              (
                `__koordrules_r2` IS NULL
              )
              AND (
                (
                  `__koordrules_s0` IS NULL
                )
                AND (
                  (
                    `__koordrules_c3` IS NULL
                  ) AND (
                    `involved_units` IS NULL
                  )
                )
              )
            )
          )
          THEN 'involved_units'
          ELSE CAST(NULL AS STRING)
        END,
        CASE
          WHEN (
            (
              `__koordrules_first` >= 2
            )
            AND (
              (
                `__koordrules_r2` IS NULL
              )
              AND (
                (
                  `__koordrules_s0` IS NULL
                )
                AND (
                  (
                    `__koordrules_c1` IS NULL
                  ) AND (
                    `lifelong_course` IS NULL
                  )
                )
              )
            )
          )
          THEN 'lifelong_course'
          ELSE CAST(NULL AS STRING)
        END,
        CASE
          WHEN (
            (
              `__koordrules_first` >= 2
            )
            AND (
              (
                `__koordrules_r2` IS NULL
              )
              AND (
                (
                  `__koordrules_s0` IS NULL
                )
                AND (
                  (
                    `__koordrules_c1` IS NULL
                  ) AND (
                    `newly_diagnosed_chronic` IS NULL
                  )
                )
              )
            )
          )
          THEN 'newly_diagnosed_chronic'
          ELSE CAST(NULL AS STRING)
        END,
        CASE
          WHEN (
            (
              `__koordrules_first` >= 2
            )
            AND (
              (
                `__koordrules_r2` IS NULL
              )
              AND (
                (
                  `__koordrules_s0` IS NULL
                ) AND (
                  `situation_indicates_need` IS NULL
                )
              )
            )
          )
          THEN 'situation_indicates_need'
          ELSE CAST(NULL AS STRING)
        END,
        CASE
          WHEN (
            (
              `__koordrules_first` >= 2
            )
            AND (
              (
                `__koordrules_r2` IS NULL
              )
              AND (
                (
                  `__koordrules_s0` IS NULL
                )
                AND (
                  (
                    `__koordrules_c1` IS NULL
                  ) AND (
                    `transition_child_to_adult` IS NULL
                  )
                )
              )
            )
          )
          THEN 'transition_child_to_adult'
          ELSE CAST(NULL AS STRING)
        END
      ),
      _v -> NOT _v IS NULL
    )
    ELSE FILTER(ARRAY(CAST(NULL AS STRING)), _v -> NOT _v IS NULL)
  END AS `missing`
FROM `__koordrules_outcome`
