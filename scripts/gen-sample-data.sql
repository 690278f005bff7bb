-- gen-sample-data.sql : synthetic Dhanman-ERP-shaped data for ONE prod-dhanman-* database.
--
--   createdb prod-dhanman-sales
--   psql -v db=sales -v scale=0.01 -d prod-dhanman-sales -f scripts/gen-sample-data.sql
--
--   db    : common | community | inventory | payroll | purchase | sales   (required)
--   scale : row-count multiplier (default 0.01). At 1.0 the six databases hold about 2 GB of
--           table data, prod-dhanman-sales about 1 GB of COPY text. Any scale > 0 works: every
--           table a database has gets at least 5 rows, so tiny scales (0.001) still produce
--           every table, key and sequence.
--
-- scripts/gen-sample-data.sh creates and fills all six databases.
--
-- Each database gets the tables its service would have (customers, vendors, items, users,
-- invoices + lines + payments, employees + payslips, journal entries + lines, warehouses +
-- stock movements, audit_log, app_settings, a view): uuids, numeric(18,2) money, timestamps,
-- jsonb, a few bytea attachments, NULLs, primary and foreign keys, secondary and partial
-- indexes, sequences positioned by setval. Names and words come from small vocabularies (they
-- compress like real master data); uuids, phone numbers, bank references, hashes and bytea
-- attachments are random (they do not), so the COPY text compresses about 3-4x with zstd -3.
-- Tables are loaded without indexes, then keys and indexes are added, as a restore would.
-- Data is random on every run (random(), gen_random_uuid()); only the shape is fixed.
\set ON_ERROR_STOP on
\pset pager off
SET synchronous_commit = off;
SET maintenance_work_mem = '256MB';
SET client_min_messages = warning;

\if :{?db}
\else
  \echo 'gen-sample-data.sql: set -v db=common|community|inventory|payroll|purchase|sales'
  SELECT 1 / 0 AS "missing -v db";
\endif
\if :{?scale}
\else
  \set scale 0.01
\endif
SELECT :'db' IN ('common', 'community', 'inventory', 'payroll', 'purchase', 'sales') AS db_ok,
       :'scale'::numeric > 0 AS scale_ok \gset
\if :db_ok
\else
  DO $$ BEGIN RAISE EXCEPTION 'gen-sample-data.sql: db must be one of common, community, inventory, payroll, purchase, sales'; END $$;
\endif
\if :scale_ok
\else
  DO $$ BEGIN RAISE EXCEPTION 'gen-sample-data.sql: scale must be > 0'; END $$;
\endif

-- ------------------------------------------------------------------ row counts
-- base counts (rows at scale 1.0, times a per-database factor calibrated so that scale 1.0
-- gives ~1.0 GB of table data in prod-dhanman-sales and ~1.0 GB in the other five together);
-- invoice_lines ~4/invoice, payments ~0.85/invoice, journal_lines ~3/entry are derived in the
-- inserts. A table with a non-zero base count never gets fewer than 5 rows.
CREATE FUNCTION pg_temp.n(base numeric, sf numeric) RETURNS bigint LANGUAGE sql IMMUTABLE AS
  $$ SELECT CASE WHEN $1 <= 0 THEN 0 ELSE greatest(5, round($1 * $2))::bigint END $$;
SELECT :scale * CASE :'db' WHEN 'sales' THEN 0.70 ELSE 0.62 END AS sf \gset
SELECT
  pg_temp.n(CASE :'db' WHEN 'sales' THEN 60000 WHEN 'community' THEN 40000 WHEN 'common' THEN 120000 ELSE 0 END, :sf) AS n_customers,
  pg_temp.n(CASE :'db' WHEN 'purchase' THEN 25000 WHEN 'common' THEN 30000 ELSE 0 END, :sf) AS n_vendors,
  pg_temp.n(CASE :'db' WHEN 'sales' THEN 20000 WHEN 'purchase' THEN 20000 WHEN 'inventory' THEN 40000 WHEN 'common' THEN 30000 ELSE 0 END, :sf) AS n_items,
  pg_temp.n(CASE :'db' WHEN 'sales' THEN 700000 WHEN 'purchase' THEN 180000 WHEN 'community' THEN 120000 ELSE 0 END, :sf) AS n_invoices,
  pg_temp.n(CASE :'db' WHEN 'sales' THEN 900000 WHEN 'purchase' THEN 200000 WHEN 'payroll' THEN 250000 ELSE 0 END, :sf) AS n_journal,
  pg_temp.n(CASE :'db' WHEN 'payroll' THEN 12000 ELSE 0 END, :sf) AS n_employees,
  pg_temp.n(CASE :'db' WHEN 'inventory' THEN 1600000 ELSE 0 END, :sf) AS n_stock,
  pg_temp.n(CASE :'db' WHEN 'sales' THEN 500000 WHEN 'purchase' THEN 150000 WHEN 'inventory' THEN 150000
                       WHEN 'payroll' THEN 100000 WHEN 'community' THEN 120000 WHEN 'common' THEN 300000 END, :sf) AS n_audit,
  pg_temp.n(CASE :'db' WHEN 'common' THEN 5000 ELSE 0 END, :sf) AS n_users
\gset
SELECT :n_customers > 0 AS has_customers, :n_vendors > 0 AS has_vendors, :n_items > 0 AS has_items,
       :n_invoices > 0 AS has_invoices, :n_journal > 0 AS has_journal, :n_employees > 0 AS has_employees,
       :n_stock > 0 AS has_stock, :n_users > 0 AS has_users,
       CASE WHEN :'db' = 'purchase' THEN 'vendors' ELSE 'customers' END AS party_table,
       CASE WHEN :'db' = 'purchase' THEN 'BILL' WHEN :'db' = 'community' THEN 'MNT' ELSE 'INV' END AS inv_prefix,
       CASE WHEN :'db' = 'purchase' THEN 'v' ELSE 'c' END AS party_salt
\gset

-- ------------------------------------------------------------------ vocabularies
CREATE FUNCTION pg_temp.pick(a text[], r float8) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT $1[1 + floor($2 * cardinality($1))::int] $$;
CREATE FUNCTION pg_temp.first_names() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$ SELECT
  '{Aarav,Vivaan,Aditya,Vihaan,Arjun,Sai,Reyansh,Ayaan,Krishna,Ishaan,Shaurya,Atharv,Advik,Pranav,Advaith,Aryan,Dhruv,Kabir,Ritvik,Aarush,Kian,Darsh,Veer,Rohan,Rahul,Amit,Sanjay,Suresh,Ramesh,Mahesh,Rajesh,Vikram,Anil,Sunil,Deepak,Manoj,Ajay,Vijay,Nitin,Sachin,Saanvi,Aanya,Aadhya,Aaradhya,Ananya,Pari,Diya,Navya,Myra,Sara,Anika,Kiara,Riya,Ira,Prisha,Priya,Pooja,Neha,Sneha,Kavya,Anjali,Sunita,Meena,Lakshmi,Geeta,Rekha,Asha,Usha,Swati,Shweta,Nisha,Divya,Shreya,Tanvi,Ishita,Aditi,Bhavna,Jyoti,Komal,Payal,Radha,Sita,Tara,Uma,Vani,Yamini,Zoya,Farhan,Imran,Salman,Arif,Javed,Faisal,Ravi,Kiran,Gopal,Hari,Mohan,Naveen,Prakash,Sandeep}'::text[] $$;
CREATE FUNCTION pg_temp.last_names() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$ SELECT
  '{Sharma,Verma,Gupta,Singh,Kumar,Patel,Shah,Mehta,Joshi,Desai,Kulkarni,Deshpande,Patil,Pawar,Jadhav,More,Shinde,Gaikwad,Chavan,Bhosale,Naik,Rao,Reddy,Nair,Menon,Pillai,Iyer,Iyengar,Krishnan,Subramanian,Banerjee,Chatterjee,Mukherjee,Das,Bose,Ghosh,Sen,Dutta,Roy,Chakraborty,Agarwal,Bansal,Goel,Jain,Mittal,Saxena,Srivastava,Tiwari,Pandey,Mishra,Dubey,Trivedi,Bhatt,Thakur,Chauhan,Rathore,Yadav,Malhotra,Kapoor,Khanna,Chopra,Arora,Bhatia,Sethi,Ahuja,Grover,Kohli,Gill,Sandhu,Dhillon,Khan,Ansari,Sheikh,Qureshi,DSouza,Fernandes,Pereira,Rodrigues,Gomes,Almeida}'::text[] $$;
CREATE FUNCTION pg_temp.cities() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$ SELECT
  '{Mumbai,Pune,Nagpur,Nashik,Thane,Aurangabad,Delhi,Noida,Gurugram,Faridabad,Bengaluru,Mysuru,Mangaluru,Hubballi,Chennai,Coimbatore,Madurai,Hyderabad,Warangal,Vijayawada,Visakhapatnam,Kolkata,Howrah,Ahmedabad,Surat,Vadodara,Rajkot,Jaipur,Jodhpur,Udaipur,Lucknow,Kanpur,Varanasi,Indore,Bhopal,Kochi,Thiruvananthapuram,Bhubaneswar,Patna,Chandigarh,Ludhiana,Goa}'::text[] $$;
CREATE FUNCTION pg_temp.states() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$ SELECT
  '{Maharashtra,Delhi,Karnataka,Tamil Nadu,Telangana,Andhra Pradesh,West Bengal,Gujarat,Rajasthan,Uttar Pradesh,Madhya Pradesh,Kerala,Odisha,Bihar,Punjab,Haryana,Goa}'::text[] $$;
CREATE FUNCTION pg_temp.streets() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$ SELECT
  '{MG Road,Station Road,Link Road,FC Road,JM Road,Nehru Nagar,Gandhi Chowk,Shivaji Nagar,Laxmi Road,Park Street,Ring Road,Civil Lines,Sector 18,Sector 62,Industrial Area Phase 2,MIDC,Old Market,New Colony,Church Street,Brigade Road,Anna Salai,Banjara Hills,Jubilee Hills,Salt Lake,CG Road,SG Highway,Hazratganj,Marine Drive,Koregaon Park,Baner Road}'::text[] $$;
CREATE FUNCTION pg_temp.adjectives() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$ SELECT
  '{Premium,Standard,Deluxe,Economy,Heavy Duty,Industrial,Compact,Portable,Stainless,Galvanised,Organic,Refined,Imported,Local,Eco,Smart,Classic,Ultra,Pro,Mini,Mega,Super,Basic,Advanced,Reinforced,Coated,Plain,Printed,Woven,Moulded}'::text[] $$;
CREATE FUNCTION pg_temp.nouns() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$ SELECT
  '{Steel Pipe,PVC Pipe,Copper Wire,Cement Bag,Paint Bucket,LED Bulb,Ceiling Fan,Water Pump,Gate Valve,Ball Bearing,Hex Bolt,Wall Plug,Door Hinge,Padlock,Tile Adhesive,Wire Mesh,Cable Tray,Circuit Breaker,Switch Board,Extension Cord,Printer Paper,Toner Cartridge,Office Chair,Filing Cabinet,Basmati Rice,Toor Dal,Sunflower Oil,Sugar,Tea Powder,Detergent,Floor Cleaner,Hand Sanitiser,Face Mask,Safety Helmet,Safety Shoes,Gloves,Drill Machine,Angle Grinder,Welding Rod,Hose Pipe,Garden Tool Kit,Security Service,Housekeeping Service,Maintenance Charges,Annual Maintenance Contract,Consulting Hours,Software Licence,Cloud Hosting,Transport Charges,Courier Charges}'::text[] $$;
CREATE FUNCTION pg_temp.vocab() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$ SELECT
  '{the,of,and,to,for,as,per,on,with,against,invoice,payment,received,pending,due,order,delivery,dispatched,delivered,partial,balance,amount,quantity,rate,discount,tax,gst,cgst,sgst,igst,tds,advance,credit,debit,note,customer,vendor,supplier,purchase,sales,return,damaged,goods,material,service,charges,month,quarter,year,approved,rejected,by,manager,accounts,team,please,kindly,check,verify,revised,final,copy,attached,email,call,follow,up,reminder,overdue,cleared,cheque,bounced,neft,rtgs,upi,cash,bank,transfer,reference,site,project,phase,block,tower,flat,wing,society,member,maintenance,water,electricity,parking,lift,repair,contract,renewal,agreement,terms,conditions,warranty,replacement,urgent,priority,low,high,normal,confirmed,cancelled,hold,released,stock,warehouse,godown,transit,batch,expiry,lot,sample,quality,inspection,passed,failed,rework,scrap,adjustment,opening,closing,carried,forward,reversal,entry,journal,ledger,account,head,cost,centre,branch,head office,regional,north,south,east,west,central,zone,area,route,beat,salesman,commission,incentive,target,achieved,scheme,offer,festival,diwali,holi,eid,christmas,new,year,bulk,retail,wholesale,distributor,dealer,franchise,online,offline,portal,app,web,mobile}'::text[] $$;
CREATE FUNCTION pg_temp.words(k int) RETURNS text LANGUAGE sql VOLATILE AS
  $$ SELECT string_agg(pg_temp.pick(pg_temp.vocab(), random()), ' ') FROM generate_series(1, $1) $$;
-- random "already compressed" file (PDF/JPEG-like): small header + random bytes
CREATE FUNCTION pg_temp.blob(nbytes int, hdr text) RETURNS bytea LANGUAGE sql VOLATILE AS
  $$ SELECT convert_to($2, 'UTF8') || decode(string_agg(md5(random()::text), ''), 'hex')
       FROM generate_series(1, greatest(1, $1 / 16)) $$;
CREATE FUNCTION pg_temp.item_name(k bigint) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT pg_temp.pick(pg_temp.adjectives(), ((hashint8extended($1, 11) & 1048575)::float8 / 1048576))
            || ' ' || pg_temp.pick(pg_temp.nouns(), ((hashint8extended($1, 12) & 1048575)::float8 / 1048576))
            || ' ' || (1 + (hashint8extended($1, 13) & 63))::text
            || pg_temp.pick('{mm, kg, L, pcs, m, pack, box, set}'::text[], ((hashint8extended($1, 14) & 1023)::float8 / 1024)) $$;
CREATE FUNCTION pg_temp.pan(seed text) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT upper(translate(substr(md5($1), 1, 5), '0123456789', 'PQRSTUVWXY')) || lpad(((hashtext($1) & 8191) % 10000)::text, 4, '0')
            || upper(translate(substr(md5($1), 9, 1), '0123456789', 'KLMNOPQRST')) $$;

-- ------------------------------------------------------------------ master data
\if :has_customers
CREATE TABLE customers (
  id uuid NOT NULL, customer_no text NOT NULL, name text NOT NULL, legal_name text, email text, phone text,
  gstin text, pan text, billing_address jsonb, city text, state text, country char(2) NOT NULL DEFAULT 'IN',
  credit_limit numeric(18,2), payment_terms_days int NOT NULL DEFAULT 30, is_active boolean NOT NULL DEFAULT true,
  notes text, created_at timestamptz NOT NULL, updated_at timestamptz, created_by uuid);
INSERT INTO customers
SELECT md5('c' || g)::uuid, 'CUST-' || lpad(g::text, 6, '0'), f || ' ' || l,
       CASE WHEN r1 < 0.35 THEN l || ' ' || pg_temp.pick('{Traders,Enterprises,Industries,Pvt Ltd,LLP,& Sons,Agencies,Distributors,Housing Society,Constructions}'::text[], r2) END,
       lower(f) || '.' || lower(l) || (g % 997) || '@' || pg_temp.pick('{gmail.com,yahoo.co.in,outlook.com,rediffmail.com,hotmail.com,company.in,example.org}'::text[], r3),
       '+91 ' || (6000000000 + floor(random() * 3999999999))::bigint,
       CASE WHEN r1 < 0.6 THEN lpad((1 + floor(r4 * 37))::int::text, 2, '0') || pg_temp.pan('c' || g) || '1Z' || upper(substr(md5(g::text), 3, 1)) END,
       CASE WHEN r1 < 0.8 THEN pg_temp.pan('c' || g) END,
       jsonb_build_object('line1', (1 + floor(random() * 999))::int || ', ' || pg_temp.pick(pg_temp.streets(), random()),
                          'line2', CASE WHEN random() < 0.5 THEN 'Near ' || pg_temp.pick(pg_temp.streets(), random()) END,
                          'city', c, 'state', s, 'pin', (400000 + floor(random() * 99999))::int::text),
       c, s, 'IN', round((floor(random() * 50) * 10000)::numeric, 2), pg_temp.pick('{0,7,15,30,30,30,45,60,90}'::text[], random())::int,
       random() > 0.07, CASE WHEN random() < 0.2 THEN pg_temp.words(4 + floor(random() * 20)::int) END,
       ts, CASE WHEN random() < 0.6 THEN ts + random() * interval '400 days' END, md5('u' || floor(random() * 200))::uuid
FROM (SELECT g, random() r1, random() r2, random() r3, random() r4,
             pg_temp.pick(pg_temp.first_names(), random()) f, pg_temp.pick(pg_temp.last_names(), random()) l,
             pg_temp.pick(pg_temp.cities(), random()) c, pg_temp.pick(pg_temp.states(), random()) s,
             timestamptz '2019-04-01 09:00+05:30' + (g::float8 / :n_customers) * interval '2100 days' + random() * interval '10 hours' ts
      FROM generate_series(1, :n_customers) g) x;
ALTER TABLE customers ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX customers_customer_no_key ON customers (customer_no);
CREATE INDEX customers_name_idx ON customers (lower(name));
\endif

\if :has_vendors
CREATE TABLE vendors (
  id uuid NOT NULL, vendor_no text NOT NULL, name text NOT NULL, contact_person text, email text, phone text,
  gstin text, pan text, address jsonb, bank_account text, ifsc text, msme_registered boolean NOT NULL DEFAULT false,
  payment_terms_days int NOT NULL DEFAULT 30, is_active boolean NOT NULL DEFAULT true, notes text,
  created_at timestamptz NOT NULL, updated_at timestamptz);
INSERT INTO vendors
SELECT md5('v' || g)::uuid, 'VEND-' || lpad(g::text, 6, '0'),
       l || ' ' || pg_temp.pick('{Traders,Enterprises,Industries,Pvt Ltd,LLP,& Sons,Agencies,Suppliers,Engineering Works,Services}'::text[], random()),
       f || ' ' || l, lower(l) || g || '@' || pg_temp.pick('{gmail.com,company.in,vendor.co.in,outlook.com}'::text[], random()),
       '+91 ' || (6000000000 + floor(random() * 3999999999))::bigint,
       lpad((1 + floor(random() * 37))::int::text, 2, '0') || pg_temp.pan('v' || g) || '1Z' || upper(substr(md5(g::text), 5, 1)),
       pg_temp.pan('v' || g),
       jsonb_build_object('line1', (1 + floor(random() * 999))::int || ', ' || pg_temp.pick(pg_temp.streets(), random()),
                          'city', pg_temp.pick(pg_temp.cities(), random()), 'state', pg_temp.pick(pg_temp.states(), random()),
                          'pin', (400000 + floor(random() * 99999))::int::text),
       (10000000000 + floor(random() * 89999999999))::bigint::text,
       pg_temp.pick('{HDFC,ICIC,SBIN,UTIB,KKBK,PUNB,BARB,CNRB,IDIB,YESB}'::text[], random()) || '000' || (1000 + floor(random() * 8999))::int,
       random() < 0.3, pg_temp.pick('{15,30,30,45,60}'::text[], random())::int, random() > 0.05,
       CASE WHEN random() < 0.15 THEN pg_temp.words(3 + floor(random() * 15)::int) END,
       timestamptz '2019-04-01 10:00+05:30' + (g::float8 / :n_vendors) * interval '2100 days', NULL
FROM (SELECT g, pg_temp.pick(pg_temp.first_names(), random()) f, pg_temp.pick(pg_temp.last_names(), random()) l
      FROM generate_series(1, :n_vendors) g) x;
ALTER TABLE vendors ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX vendors_vendor_no_key ON vendors (vendor_no);
\endif

\if :has_items
CREATE TABLE items (
  id uuid NOT NULL, sku text NOT NULL, name text NOT NULL, description text, hsn_code text, uom text NOT NULL,
  unit_price numeric(18,2) NOT NULL, tax_rate numeric(5,2) NOT NULL, reorder_level numeric(18,3),
  is_active boolean NOT NULL DEFAULT true, attributes jsonb, created_at timestamptz NOT NULL);
INSERT INTO items
SELECT md5('i' || g)::uuid, 'SKU-' || upper(substr(md5('sku' || g), 1, 4)) || '-' || lpad(g::text, 6, '0'), pg_temp.item_name(g),
       CASE WHEN random() < 0.7 THEN pg_temp.item_name(g) || ' - ' || pg_temp.words(5 + floor(random() * 30)::int) END,
       (1000 + floor(random() * 8999))::int::text || lpad(floor(random() * 100)::int::text, 2, '0'),
       pg_temp.pick('{NOS,KGS,LTR,MTR,BOX,SET,PCS,HRS}'::text[], random()),
       round((5 + random() ^ 2 * 25000)::numeric, 2), pg_temp.pick('{0,5,12,18,18,18,28}'::text[], random())::numeric,
       CASE WHEN random() < 0.5 THEN floor(random() * 500) END, random() > 0.1,
       CASE WHEN random() < 0.6 THEN jsonb_build_object('brand', pg_temp.pick(pg_temp.last_names(), random()),
              'colour', pg_temp.pick('{red,blue,green,black,white,grey,silver,yellow}'::text[], random()),
              'weight_kg', round((random() * 50)::numeric, 3), 'fragile', random() < 0.2) END,
       timestamptz '2019-04-01 11:00+05:30' + (g::float8 / :n_items) * interval '2000 days'
FROM generate_series(1, :n_items) g;
ALTER TABLE items ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX items_sku_key ON items (sku);
\endif

\if :has_users
CREATE TABLE users (
  id uuid NOT NULL DEFAULT gen_random_uuid(), email text NOT NULL, display_name text NOT NULL, role text NOT NULL,
  password_hash text NOT NULL, mfa_enabled boolean NOT NULL DEFAULT false, last_login_at timestamptz,
  settings jsonb, created_at timestamptz NOT NULL);
INSERT INTO users
SELECT md5('u' || g)::uuid, lower(f) || '.' || lower(l) || g || '@dhanman.example', f || ' ' || l,
       pg_temp.pick('{admin,accountant,accountant,clerk,clerk,clerk,auditor,manager,viewer}'::text[], random()),
       '$2a$11$' || substr(encode(decode(md5(random()::text) || md5(random()::text), 'hex'), 'base64'), 1, 53),
       random() < 0.3, CASE WHEN random() < 0.9 THEN now() - random() * interval '200 days' END,
       jsonb_build_object('theme', pg_temp.pick('{light,dark}'::text[], random()), 'lang', pg_temp.pick('{en,hi,mr,ta}'::text[], random()),
                          'page_size', pg_temp.pick('{25,50,100}'::text[], random())::int),
       timestamptz '2019-04-01' + random() * interval '2000 days'
FROM (SELECT g, pg_temp.pick(pg_temp.first_names(), random()) f, pg_temp.pick(pg_temp.last_names(), random()) l
      FROM generate_series(1, :n_users) g) x;
ALTER TABLE users ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX users_email_key ON users (email);
\endif

-- ------------------------------------------------------------------ invoices / lines / payments
\if :has_invoices
CREATE SEQUENCE invoice_no_seq;
CREATE TABLE invoices (
  id bigserial NOT NULL, public_id uuid NOT NULL DEFAULT gen_random_uuid(), invoice_no text NOT NULL,
  party_id uuid NOT NULL, invoice_date date NOT NULL, due_date date NOT NULL, status text NOT NULL,
  currency char(3) NOT NULL DEFAULT 'INR', subtotal numeric(18,2) NOT NULL, tax_total numeric(18,2) NOT NULL,
  total numeric(18,2) NOT NULL, balance numeric(18,2) NOT NULL, place_of_supply text, notes text, metadata jsonb,
  attachment_name text, attachment bytea, is_deleted boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL, updated_at timestamptz, created_by uuid NOT NULL);
INSERT INTO invoices
SELECT g, gen_random_uuid(), :'inv_prefix' || '/' || fy || '/' || lpad(g::text, 7, '0'),
       md5(:'party_salt' || (1 + floor(random() * (:n_customers + :n_vendors)))::bigint)::uuid,
       d, d + pg_temp.pick('{0,7,15,30,30,30,45,60}'::text[], random())::int, st, 'INR',
       sub, tax, sub + tax, CASE st WHEN 'paid' THEN 0 WHEN 'partially_paid' THEN round(sub * random()::numeric, 2) WHEN 'cancelled' THEN 0 ELSE sub + tax END,
       pg_temp.pick(pg_temp.states(), random()),
       CASE WHEN random() < 0.25 THEN pg_temp.words(3 + floor(random() * 25)::int) END,
       jsonb_build_object('channel', pg_temp.pick('{web,app,pos,api,import}'::text[], random()),
                          'gst', jsonb_build_object('cgst', round(tax / 2, 2), 'sgst', round(tax / 2, 2), 'igst', 0),
                          'po_ref', CASE WHEN random() < 0.3 THEN 'PO-' || (100000 + floor(random() * 900000))::int END,
                          'eway_bill', CASE WHEN random() < 0.2 THEN (100000000000 + floor(random() * 899999999999))::bigint::text END),
       CASE WHEN g % 1000 = 7 THEN 'scan_' || g || '.pdf' END,
       CASE WHEN g % 1000 = 7 THEN pg_temp.blob(4096 + floor(random() * 61440)::int, E'%PDF-1.7\n') END,
       random() < 0.01,
       d + time '09:00' + random() * interval '10 hours', CASE WHEN random() < 0.7 THEN d + random() * interval '60 days' END,
       md5('u' || floor(random() * 200))::uuid
FROM (SELECT g, dd d, CASE WHEN extract(month FROM dd) >= 4 THEN extract(year FROM dd)::int ELSE extract(year FROM dd)::int - 1 END || '-'
                 || lpad(((CASE WHEN extract(month FROM dd) >= 4 THEN extract(year FROM dd)::int ELSE extract(year FROM dd)::int - 1 END + 1) % 100)::text, 2, '0') fy,
             pg_temp.pick('{paid,paid,paid,paid,paid,posted,posted,partially_paid,draft,cancelled}'::text[], random()) st,
             round((100 + random() ^ 3 * 250000)::numeric, 2) sub, round((100 + random() ^ 3 * 250000)::numeric * 0.18, 2) tax
      FROM (SELECT g, date '2021-04-01' + (g::float8 / :n_invoices * 1460)::int + floor(random() * 3)::int dd
            FROM generate_series(1, :n_invoices) g) y) x;
SELECT setval('invoices_id_seq', :n_invoices) AS setval_ignored \gset
SELECT setval('invoice_no_seq', :n_invoices) AS setval_ignored \gset

CREATE TABLE invoice_lines (
  id bigserial NOT NULL, invoice_id bigint NOT NULL, line_no int NOT NULL, item_id uuid, description text NOT NULL,
  hsn_code text, quantity numeric(18,3) NOT NULL, unit_price numeric(18,2) NOT NULL, discount_pct numeric(5,2) NOT NULL DEFAULT 0,
  tax_rate numeric(5,2) NOT NULL, line_total numeric(18,2) NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO invoice_lines (invoice_id, line_no, item_id, description, hsn_code, quantity, unit_price, discount_pct, tax_rate, line_total, created_at)
SELECT i, ln, CASE WHEN :n_items > 0 THEN md5('i' || k)::uuid END, pg_temp.item_name(k)
              || CASE WHEN random() < 0.1 THEN ' (' || pg_temp.words(2 + floor(random() * 6)::int) || ')' ELSE '' END,
       CASE WHEN random() < 0.8 THEN (1000 + (hashint8(k) & 8191))::text END,
       q, p, dsc, tr, round(q * p * (1 - dsc / 100) * (1 + tr / 100), 2),
       timestamptz '2021-04-01 09:00+05:30' + (i::float8 / :n_invoices * 1460) * interval '1 day' + random() * interval '10 hours'
FROM (SELECT i, ln, 1 + floor(random() * CASE WHEN :n_items > 0 THEN :n_items ELSE 500 END)::bigint k,
             CASE WHEN random() < 0.7 THEN (1 + floor(random() * 24))::numeric ELSE round((random() * 100)::numeric, 3) END q,
             round((5 + random() ^ 2 * 25000)::numeric, 2) p,
             pg_temp.pick('{0,0,0,0,0,2.5,5,10,15}'::text[], random())::numeric dsc,
             pg_temp.pick('{0,5,12,18,18,18,28}'::text[], random())::numeric tr
      FROM generate_series(1, :n_invoices) i, LATERAL generate_series(1, 1 + ((hashint8(i) & 2147483647) % 7)) ln) x;

CREATE TABLE payments (
  id bigserial NOT NULL, public_id uuid NOT NULL, invoice_id bigint, party_id uuid NOT NULL, paid_at timestamptz NOT NULL,
  amount numeric(18,2) NOT NULL, method text NOT NULL, reference text, bank_name text, remarks text, created_at timestamptz NOT NULL);
INSERT INTO payments (public_id, invoice_id, party_id, paid_at, amount, method, reference, bank_name, remarks, created_at)
SELECT gen_random_uuid(), id, party_id, pa, CASE WHEN status = 'paid' THEN total ELSE round(total * random()::numeric, 2) END, m,
       CASE m WHEN 'cash' THEN NULL WHEN 'cheque' THEN lpad(floor(random() * 999999)::int::text, 6, '0')
              WHEN 'UPI' THEN upper(substr(md5(random()::text), 1, 12)) || '@' || pg_temp.pick('{okhdfcbank,okicici,oksbi,ybl,paytm}'::text[], random())
              ELSE pg_temp.pick('{HDFCR5,ICICN2,SBINR5,UTIBH}'::text[], random()) || (2022000000000000 + floor(random() * 999999999999))::bigint END,
       CASE WHEN m <> 'cash' THEN pg_temp.pick('{HDFC Bank,ICICI Bank,State Bank of India,Axis Bank,Kotak Mahindra Bank,Punjab National Bank,Bank of Baroda,Canara Bank}'::text[], random()) END,
       CASE WHEN random() < 0.1 THEN pg_temp.words(2 + floor(random() * 10)::int) END, pa
FROM (SELECT id, party_id, status, total, invoice_date + time '10:00' + random() * interval '45 days' pa,
             pg_temp.pick('{UPI,UPI,UPI,NEFT,NEFT,RTGS,cheque,cash,card}'::text[], random()) m
      FROM invoices WHERE status IN ('paid', 'partially_paid') OR random() < 0.5) x;

ALTER TABLE invoices ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX invoices_public_id_key ON invoices (public_id);
CREATE UNIQUE INDEX invoices_invoice_no_key ON invoices (invoice_no);
CREATE INDEX invoices_party_date_idx ON invoices (party_id, invoice_date);
CREATE INDEX invoices_open_idx ON invoices (due_date) WHERE status IN ('posted', 'partially_paid');
ALTER TABLE invoices ADD CONSTRAINT invoices_party_fk FOREIGN KEY (party_id) REFERENCES :party_table (id);
ALTER TABLE invoice_lines ADD PRIMARY KEY (id);
CREATE INDEX invoice_lines_invoice_idx ON invoice_lines (invoice_id);
ALTER TABLE invoice_lines ADD CONSTRAINT invoice_lines_invoice_fk FOREIGN KEY (invoice_id) REFERENCES invoices (id) ON DELETE CASCADE;
\if :has_items
ALTER TABLE invoice_lines ADD CONSTRAINT invoice_lines_item_fk FOREIGN KEY (item_id) REFERENCES items (id);
\endif
ALTER TABLE payments ADD PRIMARY KEY (id);
CREATE INDEX payments_invoice_idx ON payments (invoice_id);
CREATE INDEX payments_paid_at_idx ON payments (paid_at);
ALTER TABLE payments ADD CONSTRAINT payments_invoice_fk FOREIGN KEY (invoice_id) REFERENCES invoices (id);
ALTER TABLE payments ADD CONSTRAINT payments_party_fk FOREIGN KEY (party_id) REFERENCES :party_table (id);
\endif

-- ------------------------------------------------------------------ employees / payslips
\if :has_employees
CREATE TABLE employees (
  id uuid NOT NULL, emp_code text NOT NULL, first_name text NOT NULL, last_name text NOT NULL, email text, phone text,
  department text NOT NULL, designation text NOT NULL, date_of_joining date NOT NULL, date_of_birth date, pan text,
  aadhaar_last4 char(4), bank_account text, ifsc text, base_salary numeric(18,2) NOT NULL, address jsonb,
  is_active boolean NOT NULL DEFAULT true, exit_date date, created_at timestamptz NOT NULL);
INSERT INTO employees
SELECT md5('e' || g)::uuid, 'EMP' || lpad(g::text, 5, '0'), f, l, lower(f) || '.' || lower(l) || g || '@dhanman.example',
       '+91 ' || (6000000000 + floor(random() * 3999999999))::bigint,
       pg_temp.pick('{Accounts,Sales,Sales,Operations,Operations,HR,IT,Admin,Security,Housekeeping,Maintenance,Purchase,Stores}'::text[], random()),
       pg_temp.pick('{Executive,Senior Executive,Assistant Manager,Manager,Senior Manager,Associate,Supervisor,Technician,Guard,Helper}'::text[], random()),
       doj, date '1965-01-01' + floor(random() * 13000)::int, pg_temp.pan('e' || g), lpad(floor(random() * 10000)::int::text, 4, '0'),
       (10000000000 + floor(random() * 89999999999))::bigint::text,
       pg_temp.pick('{HDFC,ICIC,SBIN,UTIB,KKBK}'::text[], random()) || '000' || (1000 + floor(random() * 8999))::int,
       round((12000 + random() ^ 2 * 250000)::numeric, -2),
       jsonb_build_object('line1', (1 + floor(random() * 999))::int || ', ' || pg_temp.pick(pg_temp.streets(), random()),
                          'city', pg_temp.pick(pg_temp.cities(), random()), 'pin', (400000 + floor(random() * 99999))::int::text),
       act, CASE WHEN NOT act THEN doj + floor(random() * 900)::int END, doj + time '10:00'
FROM (SELECT g, pg_temp.pick(pg_temp.first_names(), random()) f, pg_temp.pick(pg_temp.last_names(), random()) l,
             date '2012-01-01' + floor(random() * 4700)::int doj, random() > 0.15 act
      FROM generate_series(1, :n_employees) g) x;
ALTER TABLE employees ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX employees_emp_code_key ON employees (emp_code);

CREATE TABLE payslips (
  id bigserial NOT NULL, employee_id uuid NOT NULL, period_start date NOT NULL, period_end date NOT NULL,
  gross numeric(18,2) NOT NULL, deductions numeric(18,2) NOT NULL, net_pay numeric(18,2) NOT NULL,
  components jsonb NOT NULL, status text NOT NULL, paid_on date, payslip_pdf bytea, created_at timestamptz NOT NULL);
INSERT INTO payslips (employee_id, period_start, period_end, gross, deductions, net_pay, components, status, paid_on, payslip_pdf, created_at)
SELECT md5('e' || e)::uuid, ps, (ps + interval '1 month - 1 day')::date, gross, ded, gross - ded,
       jsonb_build_object('earnings', jsonb_build_object('basic', round(gross * 0.5, 2), 'hra', round(gross * 0.2, 2),
                              'special', round(gross * 0.25, 2), 'conveyance', 1600, 'overtime', CASE WHEN random() < 0.2 THEN round((random() * 8000)::numeric, 2) ELSE 0 END),
                          'deductions', jsonb_build_object('pf', round(gross * 0.06, 2), 'esi', CASE WHEN gross < 21000 THEN round(gross * 0.0075, 2) ELSE 0 END,
                              'pt', 200, 'tds', round(ded - gross * 0.06 - 200, 2)),
                          'days_worked', 31 - floor(random() ^ 4 * 6)::int, 'lop_days', floor(random() ^ 6 * 4)::int),
       CASE WHEN ps < date '2025-03-01' THEN 'paid' ELSE 'approved' END, CASE WHEN ps < date '2025-03-01' THEN (ps + interval '1 month')::date END,
       CASE WHEN random() < 0.002 THEN pg_temp.blob(8192 + floor(random() * 24576)::int, E'%PDF-1.4\n') END,
       ps + interval '1 month' - interval '3 days' + random() * interval '8 hours'
FROM (SELECT e, ps, round(((12000 + ((hashint8(e) & 2147483647) % 250000)) * (1 + random() * 0.05))::numeric, 2) gross,
             round(((12000 + ((hashint8(e) & 2147483647) % 250000)) * (0.08 + random() * 0.15))::numeric, 2) ded
      FROM generate_series(1, :n_employees) e, generate_series(date '2019-04-01', date '2025-03-01', interval '1 month') ps
      WHERE random() < 0.75) x;
ALTER TABLE payslips ADD PRIMARY KEY (id);
CREATE INDEX payslips_employee_period_idx ON payslips (employee_id, period_start);
ALTER TABLE payslips ADD CONSTRAINT payslips_employee_fk FOREIGN KEY (employee_id) REFERENCES employees (id);
\endif

-- ------------------------------------------------------------------ journal
\if :has_journal
CREATE TABLE journal_entries (
  id bigserial NOT NULL, entry_no text NOT NULL, entry_date date NOT NULL, source_type text NOT NULL, source_id bigint,
  narration text, posted boolean NOT NULL DEFAULT true, reversed_entry_id bigint, created_at timestamptz NOT NULL, created_by uuid NOT NULL);
INSERT INTO journal_entries (id, entry_no, entry_date, source_type, source_id, narration, posted, reversed_entry_id, created_at, created_by)
SELECT g, 'JV/' || to_char(d, 'YYYYMM') || '/' || lpad(g::text, 7, '0'), d, src, floor(random() * 1000000)::bigint,
       CASE src WHEN 'invoice' THEN 'Being sales invoice ' || (1 + floor(random() * 999999))::int || ' posted to ledger'
                WHEN 'payment' THEN 'Being payment received via ' || pg_temp.pick('{UPI,NEFT,RTGS,cheque,cash}'::text[], random()) || ' ref ' || upper(substr(md5(random()::text), 1, 10))
                WHEN 'payroll' THEN 'Salary for the month of ' || to_char(d, 'Mon YYYY')
                ELSE pg_temp.words(4 + floor(random() * 16)::int) END,
       random() > 0.02, CASE WHEN random() < 0.01 THEN floor(random() * g)::bigint END,
       d + time '08:00' + random() * interval '12 hours', md5('u' || floor(random() * 200))::uuid
FROM (SELECT g, date '2021-04-01' + (g::float8 / :n_journal * 1460)::int d,
             pg_temp.pick(CASE WHEN :'db' = 'payroll' THEN '{payroll,payroll,payroll,manual}'::text[] ELSE '{invoice,invoice,invoice,payment,payment,manual,adjustment}'::text[] END, random()) src
      FROM generate_series(1, :n_journal) g) x;
SELECT setval('journal_entries_id_seq', :n_journal) AS setval_ignored \gset

CREATE TABLE journal_lines (
  id bigserial NOT NULL, journal_entry_id bigint NOT NULL, line_no int NOT NULL, account_code text NOT NULL, account_name text NOT NULL,
  debit numeric(18,2) NOT NULL DEFAULT 0, credit numeric(18,2) NOT NULL DEFAULT 0, cost_center text, memo text);
INSERT INTO journal_lines (journal_entry_id, line_no, account_code, account_name, debit, credit, cost_center, memo)
SELECT j, ln, split_part(acct, ':', 1), split_part(acct, ':', 2),
       CASE WHEN ln % 2 = 1 THEN amt ELSE 0 END, CASE WHEN ln % 2 = 0 THEN amt ELSE 0 END,
       CASE WHEN random() < 0.4 THEN pg_temp.pick('{CC-HO,CC-PUNE,CC-MUM,CC-BLR,CC-DEL,CC-HYD}'::text[], random()) END,
       CASE WHEN random() < 0.05 THEN pg_temp.words(2 + floor(random() * 8)::int) END
FROM (SELECT j, ln, round((10 + random() ^ 3 * 300000)::numeric, 2) amt,
             pg_temp.pick('{1001:Cash in Hand,1002:HDFC Current Account,1003:ICICI Current Account,1100:Sundry Debtors,2100:Sundry Creditors,2201:Output CGST,2202:Output SGST,2203:Output IGST,1301:Input CGST,1302:Input SGST,4001:Sales - Domestic,4002:Sales - Services,5001:Purchases,6001:Salaries and Wages,6002:Rent,6003:Electricity,6004:Repairs and Maintenance,6005:Professional Fees,2301:TDS Payable,2302:PF Payable}'::text[], random()) acct
      FROM generate_series(1, :n_journal) j, LATERAL generate_series(1, 2 + ((hashint8(j) & 2147483647) % 4)) ln) x;
ALTER TABLE journal_entries ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX journal_entries_entry_no_key ON journal_entries (entry_no);
CREATE INDEX journal_entries_date_idx ON journal_entries (entry_date);
ALTER TABLE journal_lines ADD PRIMARY KEY (id);
CREATE INDEX journal_lines_entry_idx ON journal_lines (journal_entry_id);
CREATE INDEX journal_lines_account_idx ON journal_lines (account_code);
ALTER TABLE journal_lines ADD CONSTRAINT journal_lines_entry_fk FOREIGN KEY (journal_entry_id) REFERENCES journal_entries (id);
\endif

-- ------------------------------------------------------------------ stock
\if :has_stock
CREATE TABLE warehouses (code text PRIMARY KEY, name text NOT NULL, city text NOT NULL, is_active boolean NOT NULL DEFAULT true);
INSERT INTO warehouses SELECT 'WH' || lpad(g::text, 2, '0'), pg_temp.pick(pg_temp.cities(), random()) || ' Godown ' || g, pg_temp.pick(pg_temp.cities(), random()), true
FROM generate_series(1, 24) g;
CREATE TABLE stock_movements (
  id bigserial NOT NULL, item_id uuid NOT NULL, warehouse_code text NOT NULL, movement_type text NOT NULL,
  quantity numeric(18,3) NOT NULL, unit_cost numeric(18,2), reference_type text, reference_id bigint, batch_no text,
  expiry_date date, moved_at timestamptz NOT NULL, created_by uuid NOT NULL);
INSERT INTO stock_movements (item_id, warehouse_code, movement_type, quantity, unit_cost, reference_type, reference_id, batch_no, expiry_date, moved_at, created_by)
SELECT md5('i' || (1 + floor(random() * :n_items))::bigint)::uuid, 'WH' || lpad((1 + floor(random() ^ 2 * 24))::int::text, 2, '0'), mt,
       CASE WHEN mt IN ('OUT', 'TRANSFER_OUT') THEN -1 ELSE 1 END * (1 + floor(random() * 200)),
       round((5 + random() ^ 2 * 20000)::numeric, 2),
       CASE mt WHEN 'IN' THEN 'purchase_bill' WHEN 'OUT' THEN 'sales_invoice' WHEN 'ADJ' THEN 'stock_audit' ELSE 'transfer' END,
       floor(random() * 2000000)::bigint,
       CASE WHEN random() < 0.4 THEN 'B' || to_char(ts, 'YYMM') || '-' || upper(substr(md5(random()::text), 1, 5)) END,
       CASE WHEN random() < 0.25 THEN (ts + random() * interval '700 days')::date END, ts, md5('u' || floor(random() * 200))::uuid
FROM (SELECT g, timestamptz '2021-04-01 08:00+05:30' + (g::float8 / :n_stock) * interval '1460 days' + random() * interval '12 hours' ts,
             pg_temp.pick('{IN,IN,OUT,OUT,OUT,OUT,ADJ,TRANSFER_IN,TRANSFER_OUT}'::text[], random()) mt
      FROM generate_series(1, :n_stock) g) x;
ALTER TABLE stock_movements ADD PRIMARY KEY (id);
CREATE INDEX stock_movements_item_idx ON stock_movements (item_id, moved_at);
ALTER TABLE stock_movements ADD CONSTRAINT stock_movements_item_fk FOREIGN KEY (item_id) REFERENCES items (id);
ALTER TABLE stock_movements ADD CONSTRAINT stock_movements_wh_fk FOREIGN KEY (warehouse_code) REFERENCES warehouses (code);
\endif

-- ------------------------------------------------------------------ audit log (every database)
CREATE TABLE audit_log (
  id bigserial NOT NULL, occurred_at timestamptz NOT NULL, user_id uuid, entity text NOT NULL, entity_id text NOT NULL,
  action text NOT NULL, ip inet, user_agent text, request_id uuid NOT NULL, changes jsonb);
INSERT INTO audit_log (occurred_at, user_id, entity, entity_id, action, ip, user_agent, request_id, changes)
SELECT ts, CASE WHEN random() < 0.95 THEN md5('u' || floor(random() * 200))::uuid END, ent,
       CASE WHEN random() < 0.5 THEN floor(random() * 1000000)::bigint::text ELSE gen_random_uuid()::text END, act,
       ('10.' || floor(random() * 4) || '.' || floor(random() * 256) || '.' || floor(random() * 256))::inet,
       pg_temp.pick('{Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML; like Gecko) Chrome/120.0 Safari/537.36,Mozilla/5.0 (Macintosh; Intel Mac OS X 13_5) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15,Dhanman-Android/3.4.1 (okhttp/4.11.0),Dhanman-iOS/3.4.0 CFNetwork/1408,PostmanRuntime/7.36.0,dhanman-worker/1.0}'::text[], random()),
       gen_random_uuid(),
       CASE act WHEN 'DELETE' THEN NULL ELSE
         jsonb_build_object('old', CASE WHEN act = 'UPDATE' THEN jsonb_build_object('status', pg_temp.pick('{draft,posted,approved}'::text[], random()),
                                                                                     'amount', round((random() * 100000)::numeric, 2)) END,
                            'new', jsonb_build_object('status', pg_temp.pick('{posted,paid,approved,cancelled}'::text[], random()),
                                                      'amount', round((random() * 100000)::numeric, 2),
                                                      'remarks', CASE WHEN random() < 0.3 THEN pg_temp.words(3 + floor(random() * 12)::int) END),
                            'fields', to_jsonb(ARRAY['status', 'amount', 'updated_at'])) END
FROM (SELECT g, timestamptz '2021-04-01 08:00+05:30' + (g::float8 / :n_audit) * interval '1460 days' + random() * interval '12 hours' ts,
             pg_temp.pick('{invoice,invoice,payment,customer,vendor,item,journal_entry,employee,payslip,user,settings}'::text[], random()) ent,
             pg_temp.pick('{INSERT,INSERT,UPDATE,UPDATE,UPDATE,DELETE}'::text[], random()) act
      FROM generate_series(1, :n_audit) g) x;
ALTER TABLE audit_log ADD PRIMARY KEY (id);
CREATE INDEX audit_log_occurred_idx ON audit_log (occurred_at);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id);

-- a small settings table + a view, as real schemas have
CREATE TABLE app_settings (key text PRIMARY KEY, value jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
INSERT INTO app_settings VALUES ('db', to_jsonb(:'db'::text), now()), ('fy_start', '"04-01"', now()), ('currency', '"INR"', now()),
  ('gst', '{"enabled": true, "composition": false}', now());
\if :has_invoices
CREATE VIEW open_invoices AS SELECT id, invoice_no, party_id, due_date, balance FROM invoices WHERE status IN ('posted', 'partially_paid');
\endif
ANALYZE;
