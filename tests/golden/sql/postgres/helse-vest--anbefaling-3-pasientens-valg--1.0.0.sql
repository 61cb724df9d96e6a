WITH __koordrules_stage_1 AS (
  SELECT
    *,
    (
      "expected_followup_months" > CAST(6 AS DOUBLE PRECISION)
    ) AS "__koordrules_c0",
    (
      (
        (
          "high_treatment_intensity" OR "individually_adapted_pathway"
        )
        OR (
          "newly_diagnosed_chronic" OR "lifelong_course"
        )
      )
      OR "transition_child_to_adult"
    ) AS "__koordrules_c1",
    "situation_indicates_need" AS "__koordrules_c2",
    (
      "involved_units" >= 2
    ) AS "__koordrules_c3"
  FROM "records"
), __koordrules_stage_2 AS (
  SELECT
    *,
    (
      "__koordrules_c0"
      AND CASE
        WHEN (
          2 IS NULL
        )
        THEN NULL
        WHEN (
          (
            (
              CASE WHEN "__koordrules_c1" THEN 1 ELSE 0 END + CASE WHEN "__koordrules_c2" THEN 1 ELSE 0 END
            ) + CASE WHEN "__koordrules_c3" THEN 1 ELSE 0 END
          ) >= 2
        )
        THEN TRUE
        WHEN (
          (
            (
              (
                CASE WHEN "__koordrules_c1" THEN 1 ELSE 0 END + CASE WHEN "__koordrules_c2" THEN 1 ELSE 0 END
              ) + CASE WHEN "__koordrules_c3" THEN 1 ELSE 0 END
            ) + (
              (
                CASE WHEN (
                  "__koordrules_c1" IS NULL
                ) THEN 1 ELSE 0 END + CASE WHEN (
                  "__koordrules_c2" IS NULL
                ) THEN 1 ELSE 0 END
              ) + CASE WHEN (
                "__koordrules_c3" IS NULL
              ) THEN 1 ELSE 0 END
            )
          ) < 2
        )
        THEN FALSE
        ELSE NULL
      END
    ) AS "__koordrules_c4"
  FROM "__koordrules_stage_1"
), __koordrules_rules AS (
  SELECT
    *,
    COALESCE("has_course_coordinator", FALSE) AS "__koordrules_r0",
    "has_coordinator" AS "__koordrules_r1",
    (
      (
        "__koordrules_c4" AND (
          NOT (
            "patient_consents" IS NULL
          )
        )
      )
      AND (
        NOT "patient_consents"
      )
    ) AS "__koordrules_r2",
    (
      "__koordrules_c4" AND COALESCE("can_coordinate_self", FALSE)
    ) AS "__koordrules_r3",
    (
      "__koordrules_c0"
      AND CASE
        WHEN (
          2 IS NULL
        )
        THEN NULL
        WHEN (
          (
            (
              CASE WHEN "__koordrules_c1" THEN 1 ELSE 0 END + CASE WHEN "__koordrules_c2" THEN 1 ELSE 0 END
            ) + CASE WHEN "__koordrules_c3" THEN 1 ELSE 0 END
          ) >= 2
        )
        THEN TRUE
        WHEN (
          (
            (
              (
                CASE WHEN "__koordrules_c1" THEN 1 ELSE 0 END + CASE WHEN "__koordrules_c2" THEN 1 ELSE 0 END
              ) + CASE WHEN "__koordrules_c3" THEN 1 ELSE 0 END
            ) + (
              (
                CASE WHEN (
                  "__koordrules_c1" IS NULL
                ) THEN 1 ELSE 0 END + CASE WHEN (
                  "__koordrules_c2" IS NULL
                ) THEN 1 ELSE 0 END
              ) + CASE WHEN (
                "__koordrules_c3" IS NULL
              ) THEN 1 ELSE 0 END
            )
          ) < 2
        )
        THEN FALSE
        ELSE NULL
      END
    ) AS "__koordrules_r4",
    COALESCE("patient_requests_new_assessment", FALSE) AS "__koordrules_r5"
  FROM "__koordrules_stage_2"
), __koordrules_outcome AS (
  SELECT
    *,
    CASE
      WHEN (
        "__koordrules_r0" IS NULL
      )
      THEN NULL
      WHEN "__koordrules_r0"
      THEN 'course_coordinator'
      WHEN (
        "__koordrules_r1" IS NULL
      )
      THEN NULL
      WHEN "__koordrules_r1"
      THEN 'already_has_coordinator'
      WHEN (
        "__koordrules_r2" IS NULL
      )
      THEN NULL
      WHEN "__koordrules_r2"
      THEN 'patient_declines'
      WHEN (
        "__koordrules_r3" IS NULL
      )
      THEN NULL
      WHEN "__koordrules_r3"
      THEN 'coordinates_self'
      WHEN (
        "__koordrules_r4" IS NULL
      )
      THEN NULL
      WHEN "__koordrules_r4"
      THEN 'coordinator_likely'
      WHEN (
        "__koordrules_r5" IS NULL
      )
      THEN NULL
      WHEN "__koordrules_r5"
      THEN 'new_assessment'
      ELSE 'not_indicated'
    END AS "__koordrules_outcome",
    CASE
      WHEN "__koordrules_r0"
      THEN 0
      WHEN "__koordrules_r1"
      THEN 1
      WHEN "__koordrules_r2"
      THEN 2
      WHEN "__koordrules_r3"
      THEN 3
      WHEN "__koordrules_r4"
      THEN 4
      WHEN "__koordrules_r5"
      THEN 5
      ELSE 6
    END AS "__koordrules_first",
    CASE
      WHEN (
        2 IS NULL
      )
      THEN NULL
      WHEN (
        (
          (
            CASE WHEN "__koordrules_c1" THEN 1 ELSE 0 END + CASE WHEN "__koordrules_c2" THEN 1 ELSE 0 END
          ) + CASE WHEN "__koordrules_c3" THEN 1 ELSE 0 END
        ) >= 2
      )
      THEN TRUE
      WHEN (
        (
          (
            (
              CASE WHEN "__koordrules_c1" THEN 1 ELSE 0 END + CASE WHEN "__koordrules_c2" THEN 1 ELSE 0 END
            ) + CASE WHEN "__koordrules_c3" THEN 1 ELSE 0 END
          ) + (
            (
              CASE WHEN (
                "__koordrules_c1" IS NULL
              ) THEN 1 ELSE 0 END + CASE WHEN (
                "__koordrules_c2" IS NULL
              ) THEN 1 ELSE 0 END
            ) + CASE WHEN (
              "__koordrules_c3" IS NULL
            ) THEN 1 ELSE 0 END
          )
        ) < 2
      )
      THEN FALSE
      ELSE NULL
    END AS "__koordrules_s0",
    CASE
      WHEN (
        2 IS NULL
      )
      THEN NULL
      WHEN (
        (
          (
            CASE WHEN "__koordrules_c1" THEN 1 ELSE 0 END + CASE WHEN "__koordrules_c2" THEN 1 ELSE 0 END
          ) + CASE WHEN "__koordrules_c3" THEN 1 ELSE 0 END
        ) >= 2
      )
      THEN TRUE
      WHEN (
        (
          (
            (
              CASE WHEN "__koordrules_c1" THEN 1 ELSE 0 END + CASE WHEN "__koordrules_c2" THEN 1 ELSE 0 END
            ) + CASE WHEN "__koordrules_c3" THEN 1 ELSE 0 END
          ) + (
            (
              CASE WHEN (
                "__koordrules_c1" IS NULL
              ) THEN 1 ELSE 0 END + CASE WHEN (
                "__koordrules_c2" IS NULL
              ) THEN 1 ELSE 0 END
            ) + CASE WHEN (
              "__koordrules_c3" IS NULL
            ) THEN 1 ELSE 0 END
          )
        ) < 2
      )
      THEN FALSE
      ELSE NULL
    END AS "__koordrules_s1"
  FROM "__koordrules_rules"
)
SELECT
  "__koordrules_outcome" AS "outcome",
  "__koordrules_c0" AS "A",
  "__koordrules_c1" AS "B",
  "__koordrules_c2" AS "C",
  "__koordrules_c3" AS "D",
  "__koordrules_c4" AS "criteria_met",
  CASE
    WHEN (
      "__koordrules_outcome" IS NULL
    )
    THEN ARRAY(SELECT
      _v
    FROM UNNEST(ARRAY[
      CASE
        WHEN (
          (
            "__koordrules_first" >= 3
          )
          AND (
            (
              "__koordrules_r3" IS NULL
            )
            AND (
              (
                COALESCE("can_coordinate_self", FALSE) IS NULL
              )
              AND (
                "can_coordinate_self" IS NULL
              )
            )
          )
        )
        THEN 'can_coordinate_self'
        ELSE CAST(NULL AS VARCHAR)
      END,
      CASE
        WHEN (
          (
            (
              (
                "__koordrules_first" >= 2
              )
              AND (
                (
                  "__koordrules_r2" IS NULL
                )
                AND (
                  (
                    "__koordrules_c4" IS NULL
                  )
                  AND (
                    (
                      "__koordrules_c0" IS NULL
                    ) AND (
                      "expected_followup_months" IS NULL
                    )
                  )
                )
              )
            )
            OR (
              (
                "__koordrules_first" >= 3
              )
              AND (
                (
                  "__koordrules_r3" IS NULL
                )
                AND (
                  (
                    "__koordrules_c4" IS NULL
                  )
                  AND (
                    (
                      "__koordrules_c0" IS NULL
                    ) AND (
                      "expected_followup_months" IS NULL
                    )
                  )
                )
              )
            )
          )
          OR (
            (
              "__koordrules_first" >= 4
            )
            AND (
              (
                "__koordrules_r4" IS NULL
              )
              AND (
                (
                  "__koordrules_c0" IS NULL
                ) AND (
                  "expected_followup_months" IS NULL
                )
              )
            )
          )
        )
        THEN 'expected_followup_months'
        ELSE CAST(NULL AS VARCHAR)
      END,
      CASE
        WHEN (
          (
            "__koordrules_first" >= 1
          ) AND (
            "has_coordinator" IS NULL
          )
        )
        THEN 'has_coordinator'
        ELSE CAST(NULL AS VARCHAR)
      END,
      CASE
        WHEN (
          (
            "__koordrules_r0" IS NULL
          ) AND (
            "has_course_coordinator" IS NULL
          )
        )
        THEN 'has_course_coordinator'
        ELSE CAST(NULL AS VARCHAR)
      END,
      CASE
        WHEN (
          (
            (
              (
                "__koordrules_first" >= 2
              )
              AND (
                (
                  "__koordrules_r2" IS NULL
                )
                AND (
                  (
                    "__koordrules_c4" IS NULL
                  )
                  AND (
                    (
                      "__koordrules_s0" IS NULL
                    )
                    AND (
                      (
                        "__koordrules_c1" IS NULL
                      ) AND (
                        "high_treatment_intensity" IS NULL
                      )
                    )
                  )
                )
              )
            )
            OR (
              (
                "__koordrules_first" >= 3
              )
              AND (
                (
                  "__koordrules_r3" IS NULL
                )
                AND (
                  (
                    "__koordrules_c4" IS NULL
                  )
                  AND (
                    (
                      "__koordrules_s0" IS NULL
                    )
                    AND (
                      (
                        "__koordrules_c1" IS NULL
                      ) AND (
                        "high_treatment_intensity" IS NULL
                      )
                    )
                  )
                )
              )
            )
          )
          OR (
            (
              "__koordrules_first" >= 4
            )
            AND (
              (
                "__koordrules_r4" IS NULL
              )
              AND (
                (
                  "__koordrules_s1" IS NULL
                )
                AND (
                  (
                    "__koordrules_c1" IS NULL
                  ) AND (
                    "high_treatment_intensity" IS NULL
                  )
                )
              )
            )
          )
        )
        THEN 'high_treatment_intensity'
        ELSE CAST(NULL AS VARCHAR)
      END,
      CASE
        WHEN (
          (
            (
              (
                "__koordrules_first" >= 2
              )
              AND (
                (
                  "__koordrules_r2" IS NULL
                )
                AND (
                  (
                    "__koordrules_c4" IS NULL
                  )
                  AND (
                    (
                      "__koordrules_s0" IS NULL
                    )
                    AND (
                      (
                        "__koordrules_c1" IS NULL
                      ) AND (
                        "individually_adapted_pathway" IS NULL
                      )
                    )
                  )
                )
              )
            )
            OR (
              (
                "__koordrules_first" >= 3
              )
              AND (
                (
                  "__koordrules_r3" IS NULL
                )
                AND (
                  (
                    "__koordrules_c4" IS NULL
                  )
                  AND (
                    (
                      "__koordrules_s0" IS NULL
                    )
                    AND (
                      (
                        "__koordrules_c1" IS NULL
                      ) AND (
                        "individually_adapted_pathway" IS NULL
                      )
                    )
                  )
                )
              )
            )
          )
          OR (
            (
              "__koordrules_first" >= 4
            )
            AND (
              (
                "__koordrules_r4" IS NULL
              )
              AND (
                (
                  "__koordrules_s1" IS NULL
                )
                AND (
                  (
                    "__koordrules_c1" IS NULL
                  ) AND (
                    "individually_adapted_pathway" IS NULL
                  )
                )
              )
            )
          )
        )
        THEN 'individually_adapted_pathway'
        ELSE CAST(NULL AS VARCHAR)
      END,
      CASE
        WHEN (
          (
            (
              (
                "__koordrules_first" >= 2
              )
              AND (
                (
                  "__koordrules_r2" IS NULL
                )
                AND (
                  (
                    "__koordrules_c4" IS NULL
                  )
                  AND (
                    (
                      "__koordrules_s0" IS NULL
                    )
                    AND (
                      (
                        "__koordrules_c3" IS NULL
                      ) AND (
                        "involved_units" IS NULL
                      )
                    )
                  )
                )
              )
            )
            OR (
              (
                "__koordrules_first" >= 3
              )
              AND (
                (
                  "__koordrules_r3" IS NULL
                )
                AND (
                  (
                    "__koordrules_c4" IS NULL
                  )
                  AND (
                    (
                      "__koordrules_s0" IS NULL
                    )
                    AND (
                      (
                        "__koordrules_c3" IS NULL
                      ) AND (
                        "involved_units" IS NULL
                      )
                    )
                  )
                )
              )
            )
          )
          OR (
            (
              "__koordrules_first" >= 4
            )
            AND (
              (
                "__koordrules_r4" IS NULL
              )
              AND (
                (
                  "__koordrules_s1" IS NULL
                )
                AND (
                  (
                    "__koordrules_c3" IS NULL
                  ) AND (
                    "involved_units" IS NULL
                  )
                )
              )
            )
          )
        )
        THEN 'involved_units'
        ELSE CAST(NULL AS VARCHAR)
      END,
      CASE
        WHEN (
          (
            (
              (
                "__koordrules_first" >= 2
              )
              AND (
                (
                  "__koordrules_r2" IS NULL
                )
                AND (
                  (
                    "__koordrules_c4" IS NULL
                  )
                  AND (
                    (
                      "__koordrules_s0" IS NULL
                    )
                    AND (
                      (
                        "__koordrules_c1" IS NULL
                      ) AND (
                        "lifelong_course" IS NULL
                      )
                    )
                  )
                )
              )
            )
            OR (
              (
                "__koordrules_first" >= 3
              )
              AND (
                (
                  "__koordrules_r3" IS NULL
                )
                AND (
                  (
                    "__koordrules_c4" IS NULL
                  )
                  AND (
                    (
                      "__koordrules_s0" IS NULL
                    )
                    AND (
                      (
                        "__koordrules_c1" IS NULL
                      ) AND (
                        "lifelong_course" IS NULL
                      )
                    )
                  )
                )
              )
            )
          )
          OR (
            (
              "__koordrules_first" >= 4
            )
            AND (
              (
                "__koordrules_r4" IS NULL
              )
              AND (
                (
                  "__koordrules_s1" IS NULL
                )
                AND (
                  (
                    "__koordrules_c1" IS NULL
                  ) AND (
                    "lifelong_course" IS NULL
                  )
                )
              )
            )
          )
        )
        THEN 'lifelong_course'
        ELSE CAST(NULL AS VARCHAR)
      END,
      CASE
        WHEN (
          (
            (
              (
                "__koordrules_first" >= 2
              )
              AND (
                (
                  "__koordrules_r2" IS NULL
                )
                AND (
                  (
                    "__koordrules_c4" IS NULL
                  )
                  AND (
                    (
                      "__koordrules_s0" IS NULL
                    )
                    AND (
                      (
                        "__koordrules_c1" IS NULL
                      ) AND (
                        "newly_diagnosed_chronic" IS NULL
                      )
                    )
                  )
                )
              )
            )
            OR (
              (
                "__koordrules_first" >= 3
              )
              AND (
                (
                  "__koordrules_r3" IS NULL
                )
                AND (
                  (
                    "__koordrules_c4" IS NULL
                  )
                  AND (
                    (
                      "__koordrules_s0" IS NULL
                    )
                    AND (
                      (
                        "__koordrules_c1" IS NULL
                      ) AND (
                        "newly_diagnosed_chronic" IS NULL
                      )
                    )
                  )
                )
              )
            )
          )
          OR (
            (
              "__koordrules_first" >= 4
            )
            AND (
              (
                "__koordrules_r4" IS NULL
              )
              AND (
                (
                  "__koordrules_s1" IS NULL
                )
                AND (
                  (
                    "__koordrules_c1" IS NULL
                  ) AND (
                    "newly_diagnosed_chronic" IS NULL
                  )
                )
              )
            )
          )
        )
        THEN 'newly_diagnosed_chronic'
        ELSE CAST(NULL AS VARCHAR)
      END,
      CASE
        WHEN (
          (
            "__koordrules_first" >= 2
          )
          AND (
            (
              "__koordrules_r2" IS NULL
            )
            AND (
              (
                (
                  (
                    NOT (
                      "patient_consents" IS NULL
                    )
                  ) IS NULL
                )
                AND (
                  "patient_consents" IS NULL
                )
              )
              OR (
                (
                  (
                    NOT "patient_consents"
                  ) IS NULL
                )
                AND (
                  "patient_consents" IS NULL
                )
              )
            )
          )
        )
        THEN 'patient_consents'
        ELSE CAST(NULL AS VARCHAR)
      END,
      CASE
        WHEN (
          (
            "__koordrules_first" >= 5
          )
          AND (
            (
              "__koordrules_r5" IS NULL
            )
            AND (
              "patient_requests_new_assessment" IS NULL
            )
          )
        )
        THEN 'patient_requests_new_assessment'
        ELSE CAST(NULL AS VARCHAR)
      END,
      CASE
        WHEN (
          (
            (
              (
                "__koordrules_first" >= 2
              )
              AND (
                (
                  "__koordrules_r2" IS NULL
                )
                AND (
                  (
                    "__koordrules_c4" IS NULL
                  )
                  AND (
                    (
                      "__koordrules_s0" IS NULL
                    ) AND (
                      "situation_indicates_need" IS NULL
                    )
                  )
                )
              )
            )
            OR (
              (
                "__koordrules_first" >= 3
              )
              AND (
                (
                  "__koordrules_r3" IS NULL
                )
                AND (
                  (
                    "__koordrules_c4" IS NULL
                  )
                  AND (
                    (
                      "__koordrules_s0" IS NULL
                    ) AND (
                      "situation_indicates_need" IS NULL
                    )
                  )
                )
              )
            )
          )
          OR (
            (
              "__koordrules_first" >= 4
            )
            AND (
              (
                "__koordrules_r4" IS NULL
              )
              AND (
                (
                  "__koordrules_s1" IS NULL
                ) AND (
                  "situation_indicates_need" IS NULL
                )
              )
            )
          )
        )
        THEN 'situation_indicates_need'
        ELSE CAST(NULL AS VARCHAR)
      END,
      CASE
        WHEN (
          (
            (
              (
                "__koordrules_first" >= 2
              )
              AND (
                (
                  "__koordrules_r2" IS NULL
                )
                AND (
                  (
                    "__koordrules_c4" IS NULL
                  )
                  AND (
                    (
                      "__koordrules_s0" IS NULL
                    )
                    AND (
                      (
                        "__koordrules_c1" IS NULL
                      ) AND (
                        "transition_child_to_adult" IS NULL
                      )
                    )
                  )
                )
              )
            )
            OR (
              (
                "__koordrules_first" >= 3
              )
              AND (
                (
                  "__koordrules_r3" IS NULL
                )
                AND (
                  (
                    "__koordrules_c4" IS NULL
                  )
                  AND (
                    (
                      "__koordrules_s0" IS NULL
                    )
                    AND (
                      (
                        "__koordrules_c1" IS NULL
                      ) AND (
                        "transition_child_to_adult" IS NULL
                      )
                    )
                  )
                )
              )
            )
          )
          OR (
            (
              "__koordrules_first" >= 4
            )
            AND (
              (
                "__koordrules_r4" IS NULL
              )
              AND (
                (
                  "__koordrules_s1" IS NULL
                )
                AND (
                  (
                    "__koordrules_c1" IS NULL
                  ) AND (
                    "transition_child_to_adult" IS NULL
                  )
                )
              )
            )
          )
        )
        THEN 'transition_child_to_adult'
        ELSE CAST(NULL AS VARCHAR)
      END
    ]) AS _t0(_v)
    WHERE
      NOT _v IS NULL)
    ELSE ARRAY(SELECT
      _v
    FROM UNNEST(ARRAY[CAST(NULL AS VARCHAR)]) AS _t1(_v)
    WHERE
      NOT _v IS NULL)
  END AS "missing"
FROM "__koordrules_outcome"
