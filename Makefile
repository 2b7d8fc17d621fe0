# The two commands: `make run` and `make test`. Everything else is set up on the way.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STATUS_CONFIG ?= status.example.yaml
export STATUS_CONFIG

.PHONY: run test lint setup clean

# .flaskenv: the settings this run uses, so `flask --app app ...` in this folder (another
# shell, later) finds the same config, port and database (read by python-dotenv).
run: setup
	@umask 077 && { echo "# Written by make run: the flask commands here use the same settings."; \
	  echo "STATUS_CONFIG='$(STATUS_CONFIG)'"; echo "PORT='$${PORT:-8080}'"; \
	  if [ -n "$$DATABASE_URL" ]; then echo "DATABASE_URL='$$DATABASE_URL'"; fi; } > .flaskenv
	SECRET_KEY_FILE=instance/secret_key exec $(BIN)/python app.py

test: $(VENV)/.installed node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/pytest -n 2

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

setup: $(VENV)/.installed instance/secret_key

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# axe-core for the browser tests (injected into pages from disk, never fetched by them).
node_modules/.installed: package.json package-lock.json
	if command -v npm >/dev/null; then npm ci --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: browser accessibility tests will skip"; fi

# Generated once, never a fixed default; deployments set SECRET_KEY themselves.
instance/secret_key: | $(VENV)/.installed
	mkdir -p instance
	umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(48))" > $@

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache
