-- The batch's JSON is read by one json_populate_recordset, its positions from WITH ORDINALITY
-- (sql/README.md, "store_leaves"): json_array_elements lexed the whole array to cut it into
-- elements, then json_populate_record lexed each element again. Since 0020 the row lists
-- leave_input's attributes anyway (for the PDU), so the recordset's columns are named once more
-- nowhere. Instructions per store_leaves call (sql/bench/instructions.sh): 2 leaves 1,533,896 →
-- 1,492,345 (−2.7 %), 8 leaves 3,929,930 → 3,801,928 (−3.3 %).

CREATE OR REPLACE FUNCTION store_leaves_rounds(p_leaves json, p_pdus text[])
RETURNS TABLE (leave leave_input, n bigint, round bigint)
LANGUAGE sql STABLE
AS $$
    SELECT row(l.room_id, l.event_id, l.type, l.state_key, l.sender, l.depth, l.origin_server_ts, l.membership,
               l.prev_events, l.auth_events, coalesce(p_pdus[l.ordinality], l.pdu), l.expected_membership)::leave_input,
           l.ordinality,
           CASE WHEN row_number() OVER (PARTITION BY l.event_id ORDER BY l.ordinality) = 1
                 AND row_number() OVER (PARTITION BY l.room_id, l.state_key ORDER BY l.ordinality) = 1
                THEN 0 ELSE l.ordinality END
    FROM json_populate_recordset(NULL::leave_input, p_leaves) WITH ORDINALITY AS l
$$;
