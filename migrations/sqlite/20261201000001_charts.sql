-- Charts a tool drew (JSON data, drawn by the page as SVG): shown with the answer.
ALTER TABLE messages ADD COLUMN charts TEXT;

-- The data analyst preset gains the chart tool; only where the person has not changed its tools.
UPDATE assistants SET tools = '["calculator","csv_summary","csv_chart","query_database"]'
 WHERE name = 'Data analyst' AND tools = '["calculator","csv_summary","query_database"]';
