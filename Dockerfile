FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt requirements-nodeps.txt ./
RUN pip install --no-cache-dir -r requirements.txt \
  && pip install --no-cache-dir --no-deps -r requirements-nodeps.txt
COPY . .
# platform/ holds the Django project; the repo root holds generation/ and ledgerline_verify/.
ENV PYTHONPATH=/app/platform:/app DJANGO_SETTINGS_MODULE=ledgerline.settings
RUN python manage.py collectstatic --noinput
EXPOSE 8000
