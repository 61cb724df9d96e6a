WITH __koordrules_stage_1 AS (
  SELECT
    *,
    (
      "attendances_12m" >= 4
    ) AS "__koordrules_c0",
    (
      "units_6m" >= 2
    ) AS "__koordrules_c1",
    (
      "admissions_12m" >= 2
    ) AS "__koordrules_c2",
    (
      "age" >= 70
    ) AS "__koordrules_c3",
    (
      "living_situation" = 'alone'
    ) AS "__koordrules_c4",
    (
      "municipal_services" >= 1
    ) AS "__koordrules_c5",
    "lacks_resource_persons" AS "__koordrules_c6"
  FROM "records"
), __koordrules_stage_2 AS (
  SELECT
    *,
    CASE
      WHEN (
        2 IS NULL
      )
      THEN NULL
      WHEN (
        (
          (
            (
              CASE WHEN "__koordrules_c0" THEN 1 ELSE 0 END + CASE WHEN "__koordrules_c1" THEN 1 ELSE 0 END
            ) + (
              CASE WHEN "__koordrules_c2" THEN 1 ELSE 0 END + CASE WHEN "__koordrules_c3" THEN 1 ELSE 0 END
            )
          ) + (
            (
              CASE WHEN "__koordrules_c4" THEN 1 ELSE 0 END + CASE WHEN "__koordrules_c5" THEN 1 ELSE 0 END
            ) + CASE WHEN "__koordrules_c6" THEN 1 ELSE 0 END
          )
        ) >= 2
      )
      THEN TRUE
      WHEN (
        (
          (
            (
              (
                CASE WHEN "__koordrules_c0" THEN 1 ELSE 0 END + CASE WHEN "__koordrules_c1" THEN 1 ELSE 0 END
              ) + (
                CASE WHEN "__koordrules_c2" THEN 1 ELSE 0 END + CASE WHEN "__koordrules_c3" THEN 1 ELSE 0 END
              )
            ) + (
              (
                CASE WHEN "__koordrules_c4" THEN 1 ELSE 0 END + CASE WHEN "__koordrules_c5" THEN 1 ELSE 0 END
              ) + CASE WHEN "__koordrules_c6" THEN 1 ELSE 0 END
            )
          ) + (
            (
              (
                CASE WHEN (
                  "__koordrules_c0" IS NULL
                ) THEN 1 ELSE 0 END + CASE WHEN (
                  "__koordrules_c1" IS NULL
                ) THEN 1 ELSE 0 END
              ) + (
                CASE WHEN (
                  "__koordrules_c2" IS NULL
                ) THEN 1 ELSE 0 END + CASE WHEN (
                  "__koordrules_c3" IS NULL
                ) THEN 1 ELSE 0 END
              )
            ) + (
              (
                CASE WHEN (
                  "__koordrules_c4" IS NULL
                ) THEN 1 ELSE 0 END + CASE WHEN (
                  "__koordrules_c5" IS NULL
                ) THEN 1 ELSE 0 END
              ) + CASE WHEN (
                "__koordrules_c6" IS NULL
              ) THEN 1 ELSE 0 END
            )
          )
        ) < 2
      )
      THEN FALSE
      ELSE NULL
    END AS "__koordrules_c7"
  FROM "__koordrules_stage_1"
), __koordrules_rules AS (
  SELECT
    *,
    "has_coordinator" AS "__koordrules_r0",
    "__koordrules_c7" AS "__koordrules_r1"
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
      THEN 'already_has_coordinator'
      WHEN (
        "__koordrules_r1" IS NULL
      )
      THEN NULL
      WHEN "__koordrules_r1"
      THEN 'coordinator_likely'
      ELSE 'not_indicated'
    END AS "__koordrules_outcome",
    CASE WHEN "__koordrules_r0" THEN 0 WHEN "__koordrules_r1" THEN 1 ELSE 2 END AS "__koordrules_first"
  FROM "__koordrules_rules"
)
SELECT
  "__koordrules_outcome" AS "outcome",
  "__koordrules_c0" AS "attendances",
  "__koordrules_c1" AS "units",
  "__koordrules_c2" AS "admissions",
  "__koordrules_c3" AS "old_age",
  "__koordrules_c4" AS "lives_alone",
  "__koordrules_c5" AS "public_assistance",
  "__koordrules_c6" AS "few_resources",
  "__koordrules_c7" AS "enough_factors",
  CASE
    WHEN (
      "__koordrules_outcome" IS NULL
    )
    THEN LIST_FILTER(
      [
        CASE
          WHEN (
            (
              "__koordrules_first" >= 1
            )
            AND (
              (
                "__koordrules_c7" IS NULL
              )
              AND (
                (
                  "__koordrules_c2" IS NULL
                ) AND (
                  "admissions_12m" IS NULL
                )
              )
            )
          )
          THEN 'admissions_12m'
          ELSE CAST(NULL AS TEXT)
        END,
        CASE
          WHEN (
            (
              "__koordrules_first" >= 1
            )
            AND (
              (
                "__koordrules_c7" IS NULL
              )
              AND (
                (
                  "__koordrules_c3" IS NULL
                ) AND (
                  "age" IS NULL
                )
              )
            )
          )
          THEN 'age'
          ELSE CAST(NULL AS TEXT)
        END,
        CASE
          WHEN (
            (
              "__koordrules_first" >= 1
            )
            AND (
              (
                "__koordrules_c7" IS NULL
              )
              AND (
                (
                  "__koordrules_c0" IS NULL
                ) AND (
                  "attendances_12m" IS NULL
                )
              )
            )
          )
          THEN 'attendances_12m'
          ELSE CAST(NULL AS TEXT)
        END,
        CASE
          WHEN (
            "has_coordinator" IS NULL
          )
          THEN 'has_coordinator'
          ELSE CAST(NULL AS TEXT)
        END,
        CASE
          WHEN (
            (
              "__koordrules_first" >= 1
            )
            AND (
              (
                "__koordrules_c7" IS NULL
              ) AND (
                "lacks_resource_persons" IS NULL
              )
            )
          )
          THEN 'lacks_resource_persons'
          ELSE CAST(NULL AS TEXT)
        END,
        CASE
          WHEN (
            (
              "__koordrules_first" >= 1
            )
            AND (
              (
                "__koordrules_c7" IS NULL
              )
              AND (
                (
                  "__koordrules_c4" IS NULL
                ) AND (
                  "living_situation" IS NULL
                )
              )
            )
          )
          THEN 'living_situation'
          ELSE CAST(NULL AS TEXT)
        END,
        CASE
          WHEN (
            (
              "__koordrules_first" >= 1
            )
            AND (
              (
                "__koordrules_c7" IS NULL
              )
              AND (
                (
                  "__koordrules_c5" IS NULL
                ) AND (
                  "municipal_services" IS NULL
                )
              )
            )
          )
          THEN 'municipal_services'
          ELSE CAST(NULL AS TEXT)
        END,
        CASE
          WHEN (
            (
              "__koordrules_first" >= 1
            )
            AND (
              (
                "__koordrules_c7" IS NULL
              )
              AND (
                (
                  "__koordrules_c1" IS NULL
                ) AND (
                  "units_6m" IS NULL
                )
              )
            )
          )
          THEN 'units_6m'
          ELSE CAST(NULL AS TEXT)
        END
      ],
      LAMBDA _v : NOT _v IS NULL
    )
    ELSE LIST_FILTER([CAST(NULL AS TEXT)], LAMBDA _v : NOT _v IS NULL)
  END AS "missing"
FROM "__koordrules_outcome"
